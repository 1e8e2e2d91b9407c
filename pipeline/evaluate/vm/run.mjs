// Runs one program on the simulated board, inside MicroPython's WebAssembly port.
//   node [permission flags] run.mjs <micropython.mjs> <board dir> <job dir>
// <job dir> holds main.py (the program) and job.json ({board, seconds, world, max_lines}).
// Every event goes to stdout as one JSON line, [t_ms, kind, args], written with fs.writeSync
// so that a process killed for spinning has already written everything it did.
import { readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [vmModule, boardDir, jobDir] = process.argv.slice(2);
let clockMs = 0; // the board's virtual clock, as of its last event: printed lines carry it
let lines = 0;
let maxLines = Infinity;

function end(reason, error) {
  const args = { reason, error: String(error).split("\n")[0].slice(0, 500) };
  writeSync(1, JSON.stringify([clockMs, "end", args]) + "\n");
  process.exit(0);
}

// The permission model guards files, child processes, workers and the inspector, not signals:
// through `import js` a program could still kill or debug any process of this user, load native
// code or reach the network modules. Those doors are shut on the one `process` object it can reach.
const DENIED = ["kill", "_kill", "_debugProcess", "_debugEnd", "dlopen", "binding", "_linkedBinding",
  "getBuiltinModule", "loadEnvFile", "abort", "chdir", "umask", "openStdin", "setuid", "seteuid",
  "setgid", "setegid", "setgroups", "initgroups"];

function lockDown() {
  for (const name of DENIED) {
    if (typeof process[name] !== "function") continue;
    process[name] = () => {
      const err = new Error(`process.${name} is not available on the simulated board`);
      err.code = "ERR_ACCESS_DENIED";
      err.permission = "Sandbox";
      throw err;
    };
  }
}

// Events and printed lines together are capped: a loop that prints or toggles without sleeping
// would otherwise fill the parent's memory before the wall timeout ends it.
function out(json) {
  if (++lines > maxLines) end("events", `stopped after ${maxLines} events and printed lines`);
  writeSync(1, json + "\n");
}

try {
  const source = readFileSync(join(jobDir, "main.py"), "utf8");
  const job = readFileSync(join(jobDir, "job.json"), "utf8");
  maxLines = JSON.parse(job).max_lines;
  const { loadMicroPython } = await import(pathToFileURL(vmModule).href);
  const printed = (text) => out(JSON.stringify([clockMs, "print", { text }]));
  const mp = await loadMicroPython({ stdout: printed, stderr: printed });
  mp.registerJsModule("_simhost", {
    job,
    emit: (t, json) => {
      clockMs = t;
      out(json);
    },
    clock: (t) => {
      clockMs = t;
    },
    exit: (code) => process.exit(code),
  });
  lockDown();
  mp.FS.mkdir("/sim");
  for (const name of readdirSync(boardDir)) {
    if (name.endsWith(".py")) mp.FS.writeFile("/sim/" + name, readFileSync(join(boardDir, name)));
  }
  mp.globals.set("_SOURCE", source);
  // `utime`/`umachine`/`uasyncio` would otherwise stay the port's built-in aliases (docs/evaluation.md).
  mp.runPython(
    "import sys\nsys.path.insert(0, '/sim')\nimport _sim, time, machine\n" +
      "import asyncio\nsys.modules['utime'] = time\nsys.modules['umachine'] = machine\n" +
      "sys.modules['uasyncio'] = asyncio\n" +
      "_source = _SOURCE\ndel _SOURCE\n_sim.run(_source)\n",
  );
  end("crashed", "the board returned without an end event");
} catch (err) {
  // A call the permission model refused (the program reached Node through `import js`) unwinds
  // straight through the VM: the program cannot catch it, and the run ends as "raised".
  const text = String(err && err.message ? err.message : err);
  if (err && err.code === "ERR_ACCESS_DENIED") end("denied", `PermissionError: ${text} (${err.permission})`);
  end(/MemoryError|Unable to grow|out of memory/i.test(text) ? "memory" : "crashed", text.trim().split("\n").pop());
}
