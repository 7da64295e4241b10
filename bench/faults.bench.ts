import {
  figures,
  gatewayUnderViewers,
  killService,
  natsOutage,
  postgresRestart,
  SERVICES,
  startRig,
  type CaseResult,
  type Rig,
} from '../test/faults/scenarios.js';
import { percentile } from './run-overhead.bench.js';

interface Measured {
  family: string;
  result: CaseResult;
}

/** A fresh stack per fault family, as in the specs; the stack is stopped whatever happens. */
async function onStack(family: string, into: Measured[], cases: (rig: Rig) => AsyncGenerator<CaseResult>) {
  const rig = await startRig();
  try {
    for await (const result of cases(rig)) {
      into.push({ family, result });
      console.log(`  ${result.name}: ${result.problems.length} problems`);
    }
  } finally {
    await rig.stop();
  }
}

function table(header: string[], rows: (string | number)[][]) {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: string[]) => '  ' + row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
}

const seconds = (ms: number | null) => (ms === null ? '>30' : (ms / 1000).toFixed(1));

/** Median, and p99 beside it when there are several samples; a recovery not seen within 30 s counts as 30 s. */
function spread(samples: (number | null)[]) {
  const values = samples.map((ms) => ms ?? 30_000);
  if (values.length === 1) return seconds(samples[0]);
  return `${seconds(percentile(values, 50))} / ${seconds(percentile(values, 99))} (n=${values.length})`;
}

/**
 * `npm run bench faults`: the fault suite's cases with longer variants — every service killed
 * `samples` times, NATS down 1, 10 and 60 s, PostgreSQL restarted twice per mode, the gateway down
 * 1 and 10 s under live viewers — each with a 50,000-line flood. Prints the same figures the
 * specs assert as tables; a case with problems lists them after the tables.
 */
export async function runFaultsBench(samples = Number(process.env.FAULT_SAMPLES ?? 3)) {
  const flood = 50_000;
  const measured: Measured[] = [];
  console.log(`\nFault suite (distributed stack on its own PostgreSQL and NATS; ${samples} kills per service; floods of ${flood.toLocaleString('en')} lines)`);
  await onStack('kill -9 service', measured, async function* (rig) {
    for (let i = 0; i < samples; i++) for (const service of SERVICES) yield await killService(rig, service, { flood });
  });
  await onStack('NATS restart', measured, async function* (rig) {
    for (const downMs of [1000, 10_000, 60_000]) yield await natsOutage(rig, downMs, { flood });
  });
  await onStack('PostgreSQL restart', measured, async function* (rig) {
    for (const mode of ['fast', 'immediate', 'fast', 'immediate'] as const) yield await postgresRestart(rig, mode, 2000, { flood });
  });
  await onStack('gateway under viewers', measured, async function* (rig) {
    for (const downMs of [1000, 10_000]) yield await gatewayUnderViewers(rig, downMs, { flood });
  });

  console.log('\nLines and runs per case (viewer columns: lines lost / doubled across all live viewers after resume)');
  table(
    ['case', 'printed', 'stored', 'lost', 'doubled', 'reordered', 'viewer lost', 'viewer doubled', 'runs by final state', 'refused', 'problems'],
    measured.map(({ result }) => {
      const f = figures(result);
      const states = Object.entries(f.states).map(([s, n]) => `${n} ${s}`).join(', ');
      return [result.name, f.printed, f.stored, f.lost, f.doubled, f.outOfOrder, f.viewerLost, f.viewerDoubled, states, result.refusals.length, result.problems.length];
    }),
  );

  console.log('\nRecovery: seconds from the fault\'s end until /readyz and a real request answer (median / p99 where several samples; limit 10 s)');
  const families = [...new Set(measured.map((m) => m.family))];
  table(
    ['service', ...families],
    SERVICES.map((service) => [service, ...families.map((family) => spread(measured.filter((m) => m.family === family).map((m) => m.result.recovery[service].ms)))]),
  );
  console.log('\nRecovery of the killed service itself (kill -9, then restart at once)');
  table(
    ['service', 'recovery'],
    SERVICES.map((service) => [service, spread(measured.filter((m) => m.result.name === `kill -9 ${service}`).map((m) => m.result.recovery[service].ms))]),
  );

  const failing = measured.filter((m) => m.result.problems.length);
  if (failing.length) {
    console.log(`\nProblems (${failing.length} of ${measured.length} cases):`);
    for (const { result } of failing) {
      console.log(`  ${result.name}:`);
      for (const problem of result.problems.slice(0, 10)) console.log(`    - ${problem.split('\n')[0]}`);
      if (result.problems.length > 10) console.log(`    … ${result.problems.length - 10} more`);
    }
  }
  return measured;
}
