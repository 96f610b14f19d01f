// Small questions about files that several rooms ask.
import { access } from 'node:fs/promises';

/** Whether `file` exists (and can be looked at). */
export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
