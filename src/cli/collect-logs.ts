/** `blipcast collect logs` (placeholder until the collector lands). */
export async function collectLogs(_args: string[], _io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  throw new Error('not implemented yet');
}
