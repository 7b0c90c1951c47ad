import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schedule } from "effect"
import * as Sse from "../../packages/providers/src/internal/sse.js"
import { apiKey, assertWellFormed, collect, responses } from "./helpers.js"
import * as Server from "./server.js"

const encoder = new TextEncoder()

/** Every datum the decoder gives for `bytes`, cut into the given chunk lengths. */
const decodeIn = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<string> => {
  const decoder = Sse.decoder()
  const out: Array<string> = []
  let at = 0
  for (const cut of cuts) {
    out.push(...decoder.push(bytes.subarray(at, at + cut)))
    at += cut
  }
  out.push(...decoder.push(bytes.subarray(at)))
  out.push(...decoder.end())
  return out
}

// Line breaks of the three kinds, a BOM, comments, fields other than data, multi-line data, a field that only
// starts like data, a bare `data` line, and characters of 2, 3 and 4 bytes.
const stream = "\uFEFF: keep-alive\r\n" +
  "event: first\r\nid: 1\r\nretry: 10\r\ndata: {\"a\":1}\r\n\r\n" +
  "data:no space\n\n" +
  "data: line one\rdata: line two\r\r" +
  "datax: not data\ndata\ndata: é ✓ 🎵\n\n" +
  "event: only an event\n\n" +
  "data: [DONE]\n\n" +
  "data: cut off before its blank line\n"

const expected = ["{\"a\":1}", "no space", "line one\nline two", "\né ✓ 🎵", "[DONE]"]

describe("server-sent events", () => {
  it("gives the same data however the body is cut into reads, between \\r and \\n and inside a character", () => {
    const bytes = encoder.encode(stream)
    assert.deepStrictEqual(decodeIn(bytes, []), expected)
    for (let size = 1; size <= 9; size++) {
      assert.deepStrictEqual(decodeIn(bytes, Array.from({ length: Math.ceil(bytes.length / size) }, () => size)), expected, `reads of ${size} bytes`)
    }
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepStrictEqual(decodeIn(bytes, [cut]), expected, `cut at byte ${cut}`)
    }
  })

  it("drops an event the body ends in the middle of, and takes garbage as lines of unknown fields", () => {
    assert.deepStrictEqual(decodeIn(encoder.encode("data: a\n\ndata: b"), []), ["a"])
    assert.deepStrictEqual(decodeIn(encoder.encode("\u0000\u0001garbage\n{not sse}\n\n\n\ndata: ok\n\n"), [5]), ["ok"])
    assert.deepStrictEqual(decodeIn(new Uint8Array([0xff, 0xfe, 0x0a, 0x0a]), []), [])
  })

  it.live("a Responses stream with CRLF line breaks and comments, sent a few bytes at a time, reads as the usual one", () =>
    Effect.gen(function*() {
      const frames = Server.fixture("responses/text.sse")
      const crlf = `: opening comment\r\n${frames.join("").replaceAll("\n", "\r\n")}`
      const pieces = Array.from({ length: Math.ceil(crlf.length / 7) }, (_, i) => crlf.slice(i * 7, i * 7 + 7))
      const server = yield* Server.make
      server.reply(Server.sse(frames), Server.sse(pieces))
      const runner = yield* responses({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL, model: "gpt-5-mini", retry: Schedule.stop })
      const usual = yield* collect(runner)
      const cut = yield* collect(runner)
      assertWellFormed(cut)
      assert.deepStrictEqual(cut, usual)
      assert.isAbove(cut.filter((event) => event._tag === "TextDelta").length, 0)
    }).pipe(Effect.scoped))
})
