// An independent check of a record log, in another language and without any package:
// the RFC 8785 subset the library writes (objects, arrays, strings, booleans, null, safe integers)
// and sha256 from node's crypto. Used by tests/test_record_log.py.
//
//   node verify_log.mjs LOG.jsonl     prints {"entries": N, "head": "sha256:…", "records": [...]} or,
//                                     for the first bad line, "line N: what is wrong" (exit 1)
//   node verify_log.mjs --canon FILE  prints the RFC 8785 form of the JSON value in FILE
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const GENESIS = "sha256:" + "0".repeat(64);

function canon(value) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
    return String(value);
  }
  if (typeof value === "string") return JSON.stringify(value);  // RFC 8785 3.2.2.2: as ECMAScript does
  if (Array.isArray(value)) return "[" + value.map(canon).join(",") + "]";
  // RFC 8785 3.2.3: keys sorted by their UTF-16 code units, which is what Array.prototype.sort compares.
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canon(value[k])).join(",") + "}";
}

function sha256(value, without) {
  const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !without.includes(k)));
  return "sha256:" + createHash("sha256").update(Buffer.from(canon(rest), "utf8")).digest("hex");
}

function verify(path) {
  const text = readFileSync(path, "utf8");
  if (text.length && !text.endsWith("\n")) return "the last line has no final newline";
  const lines = text.split("\n").slice(0, -1);
  let previous = GENESIS;
  const records = [];
  for (let i = 0; i < lines.length; i++) {
    const where = `line ${i + 1}: `;
    let entry;
    try {
      entry = JSON.parse(lines[i]);
    } catch (e) {
      return where + "not JSON";
    }
    if (canon(entry) !== lines[i]) return where + "not in its RFC 8785 form";
    if (entry.previous !== previous) return where + "previous is not the entry_hash of the line before";
    const computed = sha256(entry, ["entry_hash", "signature"]);
    if (computed !== entry.entry_hash) return where + `entry_hash does not match (computed ${computed})`;
    const record = entry.record;
    if (record.schema !== "eligibility.record/2") return where + `record schema ${record.schema}`;
    if (sha256(record, ["record_hash"]) !== record.record_hash) return where + "record_hash does not match";
    records.push(record.record_hash);
    previous = entry.entry_hash;
  }
  console.log(JSON.stringify({ entries: lines.length, head: lines.length ? previous : null, records }));
  return null;
}

if (process.argv[2] === "--canon") {
  process.stdout.write(canon(JSON.parse(readFileSync(process.argv[3], "utf8"))));
} else {
  const problem = verify(process.argv[2]);
  if (problem !== null) {
    console.log(problem);
    process.exit(1);
  }
}
