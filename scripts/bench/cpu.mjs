// workerd's CPU time, for the benchmarks' "cpu µs" per request.
import { readFileSync, readdirSync } from "node:fs";

/** CPU time (ms) used so far by every workerd process (the workers, their Durable Objects and the
 * local D1 all run in it; the load generator and node do not), from /proc; null where there is
 * no /proc. */
export function workerdCpuMs() {
  let ticks = 0;
  try {
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // gone meanwhile
      }
      const close = stat.lastIndexOf(")");
      if (!stat.slice(stat.indexOf("(") + 1, close).startsWith("workerd")) continue;
      const fields = stat.slice(close + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    }
  } catch {
    return null;
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}
