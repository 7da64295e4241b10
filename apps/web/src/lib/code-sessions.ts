// Code sessions: the developer's scratch scripts, saved as they are typed (optimistic versions).
import { ApiError, api, enc } from './api.js';

export interface CodeSession {
  id: string;
  name: string;
  language: string;
  source: string;
  version: number;
  projectId?: string;
  timeoutSeconds?: number;
  activeExecutionId?: string;
  username?: string;
  updatedAt?: string;
}
export const CODE_LANGUAGES = ['python', 'bash', 'javascript'] as const;

export type SaveResult = { saved: CodeSession } | { conflict: CodeSession };

/** Saves `source` over `baseVersion`; a 409 (saved elsewhere since) comes back as the current session. */
export async function saveSource(id: string, baseVersion: number, source: string): Promise<SaveResult> {
  try {
    return { saved: await api<CodeSession>(`/api/v1/code-sessions/${enc(id)}`, { method: 'PATCH', body: { baseVersion, source } }) };
  } catch (error) {
    const current = error instanceof ApiError && error.status === 409 ? (error.body.current as CodeSession | undefined) : undefined;
    if (current) return { conflict: current };
    throw error;
  }
}
