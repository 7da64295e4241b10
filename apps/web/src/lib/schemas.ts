// Shapes of the gateway's answers, from the types generated out of its OpenAPI document
// (apps/gateway/web-client/api.d.ts): a renamed field fails svelte-check, not a user.
import type { components } from '../../../gateway/web-client/api.js';

type Schemas = components['schemas'];
export type Execution = Schemas['ExecutionDto'];
export type ExecutionPage = Schemas['ExecutionPageDto'];
export type ExecutionState = Schemas['ExecutionState'];
export type LogLine = Schemas['LogLineDto'];
export type Transition = Schemas['StateTransitionDto'];

// Answers the document does not describe yet (their DTOs are being completed): the fields this UI reads.
export type Level = 'viewer' | 'operator' | 'developer' | 'admin';
export interface User {
  id: string;
  username: string;
  email?: string | null;
  level: Level;
  active?: boolean;
  language?: string;
  theme?: string;
  createdAt?: string;
}
export interface Page<T> {
  items: T[];
  nextPageToken?: string | null;
  total?: number;
}
export type LocalText = string | Record<string, string> | null | undefined;
export interface Group {
  id: string;
  name?: string;
  description?: string;
  category?: string;
  requiredLevel?: Level;
  scriptCount?: number;
}
export interface Parameter {
  name: string;
  type?: string;
  label?: LocalText;
  description?: LocalText;
  placeholder?: LocalText;
  required?: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  pattern?: string;
  options?: Array<string | number | { value: string | number; label?: LocalText }>;
}
export interface Script {
  id: string;
  groupId: string;
  file: string;
  name?: string;
  description?: string;
  descriptions?: Record<string, string>;
  category?: string;
  tags?: string[];
  personalTags?: string[];
  requiredLevel?: Level;
  groupRequiredLevel?: Level;
  timeoutSeconds?: number;
  interactive?: boolean;
  valid?: boolean;
  error?: string;
  parameters?: Parameter[];
  edited?: boolean;
  editedFields?: string[];
  metadataVersion?: number;
}
export interface Project {
  id: string;
  groupId: string;
  name: string;
  isDefault?: boolean;
  isActive?: boolean;
}
export interface FileEntry {
  path: string;
  name: string;
  type: 'file' | 'directory';
  size?: number;
  modifiedAt?: string;
}
export interface Session {
  id: string;
  executionId: string;
  scriptId?: string;
  scriptName?: string;
  state: string;
  closedReason?: string;
  idleDeadline?: string;
  createdAt?: string;
  lastHeartbeatAt?: string;
}
export interface Docs {
  language?: string;
  availableLanguages?: string[];
  fallback?: boolean;
  html?: string;
  markdown?: string;
}
export interface MetadataVersion {
  version: number;
  action: string;
  changedFields?: string[];
  authorName?: string;
  createdAt?: string;
  comment?: string;
}
