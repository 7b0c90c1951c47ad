import * as Old from "./_sse_old.js"
import * as New from "../packages/providers/src/internal/sse.js"
import { decoder as responsesDecoder } from "../packages/providers/src/internal/responses.js"
const body = new Uint8Array(await (await fetch("http://127.0.0.1:7712/v1/responses", { method: "POST", body: "{}" })).arrayBuffer())
const chunks: Uint8Array[] = []
for (let i = 0; i < body.length; i += 65536) chunks.push(body.subarray(i, Math.min(body.length, i + 65536)))
const time = (name: string, f: () => number) => {
  const ts: number[] = []
  let k = 0
  for (let r = 0; r < 15; r++) { const t = performance.now(); k = f(); ts.push(performance.now() - t) }
  ts.sort((a, b) => a - b)
  console.log(name.padEnd(28), "min", (ts[0]! * 1000 / 100000).toFixed(3), "us/event  median", (ts[7]! * 1000 / 100000).toFixed(3), k)
}
const mode = process.argv[2] ?? "all"
if (mode === "all" || mode === "sse") {
time("old sse", () => { const d = Old.decoder(); let n = 0; for (const c of chunks) n += d.push(c).length; return n + d.end().length })
time("new sse", () => { const d = New.decoder(); let n = 0; for (const c of chunks) n += d.push(c).length; return n + d.end().length })
time("new sse + JSON.parse", () => { const d = New.decoder(); let n = 0; for (const c of chunks) for (const m of d.push(c)) { JSON.parse(m); n++ } return n })
time("new sse + JSON + decoder", () => { const d = New.decoder(); const r = responsesDecoder("m"); let n = 0; for (const c of chunks) for (const m of d.push(c)) { const s = r.push(JSON.parse(m)); if (s._tag === "Right") n += s.right.out.length } return n })
}
if (mode === "all" || mode === "td") {
  const { Event } = await import("@chorus/core")
  time("new TextDelta x100k", () => { let n = 0; for (let i = 0; i < 100000; i++) { const t = new Event.TextDelta({ itemId: "msg", contentIndex: 0, delta: "x" + (i & 7) }, true); n += t.contentIndex } return n })
  time("plain object x100k", () => { let n = 0; for (let i = 0; i < 100000; i++) { const t = { _tag: "TextDelta", itemId: "msg", contentIndex: 0, delta: "x" + (i & 7) }; n += t.contentIndex } return n })
  const Proto = Object.getPrototypeOf(new Event.TextDelta({ itemId: "a", contentIndex: 0, delta: "b" }, true))
  time("Object.create(proto) x100k", () => { let n = 0; for (let i = 0; i < 100000; i++) { const t = Object.create(Proto); t._tag = "TextDelta"; t.itemId = "msg"; t.contentIndex = 0; t.delta = "x" + (i & 7); n += t.contentIndex } return n })
}
