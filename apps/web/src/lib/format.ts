// Dates, durations, sizes and numbers through Intl, in the user's language.
import { getLanguage, t } from './i18n.svelte.js';

const locale = () => getLanguage();

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return t('common.none');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return t('common.none');
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

export function formatNumber(n: number, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(locale(), options).format(n);
}

const unit = (value: number, name: 'millisecond' | 'second' | 'minute' | 'hour', digits = 0) =>
  new Intl.NumberFormat(locale(), { style: 'unit', unit: name, unitDisplay: 'short', maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);

/** 850 ms, 2.35 s, 12.5 s, 3 min 4 s, 2 h 5 min, in the user's language. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return t('common.none');
  const n = Number(ms);
  if (n < 1000) return unit(n, 'millisecond');
  const s = n / 1000;
  if (s < 60) return unit(s, 'second', s < 10 ? 2 : 1);
  const m = Math.floor(s / 60);
  if (m < 60) return `${unit(m, 'minute')} ${unit(Math.round(s - m * 60), 'second')}`;
  return `${unit(Math.floor(m / 60), 'hour')} ${unit(m % 60, 'minute')}`;
}

export function formatBytes(n: number | null | undefined): string {
  const v = Number(n) || 0;
  if (v < 1024) return new Intl.NumberFormat(locale(), { style: 'unit', unit: 'byte', unitDisplay: 'short' }).format(v);
  if (v < 1024 * 1024) return new Intl.NumberFormat(locale(), { style: 'unit', unit: 'kilobyte', unitDisplay: 'short', maximumFractionDigits: 1 }).format(v / 1024);
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: 'megabyte', unitDisplay: 'short', maximumFractionDigits: 1 }).format(v / 1024 / 1024);
}

export const ACTIVE_STATES = new Set(['queued', 'starting', 'running']);
