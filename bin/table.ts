/**
 * Plain-text tables for the commands' summaries: one header row, a rule, the rows; columns
 * padded to their widest cell, numbers aligned right. Only spaces and dashes, so the output
 * reads the same in a terminal, a log file and a CI transcript.
 */

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]) {
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const width = widths[index] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.header)),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

const MB = 1_000_000;

/** Bytes as decimal megabytes with one decimal ("12.3"). */
export function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/** Bytes per second as MB/s, or '-' when the duration is too short to say. */
export function megabytesPerSecond(bytes: number, durationMs: number): string {
  return durationMs > 0 ? (bytes / MB / (durationMs / 1000)).toFixed(1) : '-';
}

/** What a sync cycle moved, as the summaries of `run --once` and `demo` show it. */
export const CYCLE_COLUMNS: readonly Column[] = [
  { header: 'records', align: 'right' },
  { header: 'data MB', align: 'right' },
  { header: 'zero MB', align: 'right' },
  { header: 'duration s', align: 'right' },
  { header: 'MB/s', align: 'right' },
];

export function cycleCells(
  cycle: { extentRecords: number; dataBytes: number; zeroBytes: number } | null,
  durationMs: number | null,
): string[] {
  return [
    cycle === null ? '-' : String(cycle.extentRecords),
    cycle === null ? '-' : megabytes(cycle.dataBytes),
    cycle === null ? '-' : megabytes(cycle.zeroBytes),
    durationMs === null ? '-' : (durationMs / 1000).toFixed(2),
    cycle === null || durationMs === null ? '-' : megabytesPerSecond(cycle.dataBytes, durationMs),
  ];
}
