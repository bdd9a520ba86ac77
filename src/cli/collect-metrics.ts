/** `blipcast collect metrics` (placeholder until the collector lands). */
export async function collectMetrics(_args: string[], _io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  throw new Error('not implemented yet');
}
