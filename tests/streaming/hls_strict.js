// Parse every playlist given on stdin (JSON: [{name, text}]) with hls-parser in strict mode;
// print JSON [{name, error}] for those it refuses (an empty list when all pass).
const HLS = require("hls-parser");

HLS.setOptions({ strictMode: true, silent: true });
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const failures = [];
  for (const { name, text } of JSON.parse(input)) {
    try {
      const playlist = HLS.parse(text);
      if (!playlist) failures.push({ name, error: "not parsed" });
    } catch (e) {
      failures.push({ name, error: String(e.message || e) });
    }
  }
  process.stdout.write(JSON.stringify(failures));
});
