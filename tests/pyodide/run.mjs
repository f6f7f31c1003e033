// Run Python code under Pyodide (CPython compiled to WebAssembly, as in JupyterLite) in node, with raftedu's
// top-level modules copied into Pyodide's file system. Usage: node run.mjs RAFTEDU_DIR CODE -> prints CODE's value.
import { loadPyodide } from "pyodide";
import fs from "node:fs";
import path from "node:path";

const [source, code] = process.argv.slice(2);
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/pkg/raftedu");
for (const name of fs.readdirSync(source)) {
  if (name.endsWith(".py")) pyodide.FS.writeFile(`/pkg/raftedu/${name}`, fs.readFileSync(path.join(source, name)));
}
pyodide.runPython("import sys; sys.path.insert(0, '/pkg')");
console.log(String(pyodide.runPython(code)));
