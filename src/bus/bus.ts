import type { Bus, BusOptions } from './types';

/** Opens a bus member on the group. (Implementation in progress.) */
export async function openBus(options: BusOptions): Promise<Bus> {
  void options;
  throw new Error('not yet');
}
