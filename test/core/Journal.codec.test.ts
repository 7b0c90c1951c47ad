import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import { ContextItem, Event } from "@chorus/core"
import * as Zlib from "node:zlib"
import * as Checksum from "../../packages/core/src/internal/journalChecksum.js"
import * as Codec from "../../packages/core/src/internal/journalCodec.js"
import * as DeltaText from "../../packages/core/src/internal/journalDeltaText.js"
import * as FileDelta from "../../packages/core/src/internal/journalFileDelta.js"
import * as FileFormat from "../../packages/core/src/internal/journalFileFormat.js"
import * as FileStrings from "../../packages/core/src/internal/journalFileStrings.js"
import * as Payload from "../../packages/core/src/internal/environment/payload.js"
import * as SqlRow from "../../packages/core/src/internal/journalSqlRow.js"
import * as Trusted from "../../packages/core/src/internal/journalTrusted.js"
import * as TrustedEncode from "../../packages/core/src/internal/journalTrustedEncode.js"

// The journals' fast paths must be indistinguishable from the Schema's own encode and decode.
const events = Arbitrary.make(Event.Event)
const schemaJson = (event: Event.Event) => JSON.stringify(Schema.encodeSync(Event.Event)(event))

/** Every own key, value and prototype, recursively: what `new X(props, true)` builds, compared exactly. */
const sameShape = (actual: unknown, expected: unknown, path = "event"): void => {
  if (typeof expected !== "object" || expected === null) {
    assert.ok(Object.is(actual, expected), `${path}: ${String(actual)} !== ${String(expected)}`)
    return
  }
  assert.ok(typeof actual === "object" && actual !== null, `${path} is not an object`)
  assert.strictEqual(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected), `${path}: prototype`)
  assert.deepStrictEqual(Reflect.ownKeys(actual), Reflect.ownKeys(expected), `${path}: keys`)
  for (const key of Reflect.ownKeys(expected)) {
    sameShape((actual as Record<PropertyKey, unknown>)[key], (expected as Record<PropertyKey, unknown>)[key], `${path}.${String(key)}`)
  }
}

describe("journal codec fast paths", () => {
  it("the trusted encode writes exactly the Schema encoding's JSON (property)", () => {
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        assert.strictEqual(TrustedEncode.encodeEvent(event), schemaJson(event))
        assert.strictEqual(TrustedEncode.encodePayload(event.payload), JSON.stringify(Schema.encodeSync(Event.Payload)(event.payload)))
      }),
      { numRuns: 2_000 }
    )
  })

  it("the trusted decode builds what the Schema decode builds: same prototypes, keys and values (property)", () => {
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        const value = JSON.parse(schemaJson(event))
        const expected = Schema.decodeUnknownSync(Event.Event)(value)
        const built = Trusted.decodeEvent(JSON.parse(schemaJson(event)))
        assert.ok(built !== undefined, "the trusted decode gave up")
        sameShape(built, expected)
      }),
      { numRuns: 2_000 }
    )
  })

  it("an agent state in the older spelling decodes on the trusted path to the one spelling, which is what it writes", () => {
    // A journal of the previous release has checksums (the trusted path) and "function-calls" / "awaiting-approval".
    const older = {
      sequence: 3,
      author: "agent",
      timestamp: 1,
      payload: { _tag: "StateChanged", participant: "agent", runId: "r1", from: "function-calls", to: "awaiting-approval" }
    }
    const built = Trusted.decodeEvent(structuredClone(older))
    assert.ok(built !== undefined, "the trusted decode gave up")
    sameShape(built, Schema.decodeUnknownSync(Event.Event)(older))
    const payload = built!.payload as Event.StateChanged
    assert.deepStrictEqual([payload.from, payload.to], ["function_calls", "awaiting_approval"])
    assert.strictEqual(TrustedEncode.encodeEvent(built!), schemaJson(built!))
    assert.include(TrustedEncode.encodeEvent(built!), `"from":"function_calls","to":"awaiting_approval"`)
  })

  it("an event with optional fields left out decodes with their defaults, as the Schema does", () => {
    const done = new Event.ItemDone({ item: ContextItem.modelText({ id: "m", author: "a", text: "hi" }), runId: null })
    const value = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: done })))
    delete value.payload.to
    delete value.payload.policy
    sameShape(Trusted.decodeEvent(structuredClone(value)), Schema.decodeUnknownSync(Event.Event)(value))
  })

  it("garbage gives up on the trusted path, and the full decode says what is wrong", () => {
    const good = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" }) })))
    const cases: ReadonlyArray<unknown> = [
      null,
      "text",
      [],
      { ...good, payload: { ...good.payload, _tag: "NoSuchEvent" } },
      { ...good, payload: { _tag: "TextDelta", itemId: "m" } },
      { ...good, payload: 42 },
      { sequence: 0, author: "a", payload: good.payload }
    ]
    for (const value of cases) {
      assert.strictEqual(Trusted.decodeEvent(value), undefined, JSON.stringify(value))
      assert.ok(Either.isLeft(Codec.decodeTrusted(value)), JSON.stringify(value))
    }
  })

  it("an event the trusted encode cannot write (a required field missing) is left to the full encode, which names it", () => {
    const broken = Event.unsafeMake({ sequence: 0, author: "a", timestamp: 1, payload: { _tag: "TextDelta", itemId: "m" } as unknown as Event.Payload })
    assert.strictEqual(TrustedEncode.encodeEvent(broken), undefined)
    assert.ok(Either.isLeft(Codec.encode(broken)))
  })
})

describe("environment-made payloads", () => {
  it("a payload built by prototype is what its constructor builds", () => {
    sameShape(
      Payload.make(Event.ParticipantJoined, { participant: "p", kind: "observer" }),
      new Event.ParticipantJoined({ participant: "p", kind: "observer" })
    )
    sameShape(Payload.make(Event.ParticipantLeft, { participant: "p" }), new Event.ParticipantLeft({ participant: "p" }))
    sameShape(Event.unsafeTextDelta("m", 3, "x"), new Event.TextDelta({ itemId: "m", contentIndex: 3, delta: "x" }))
    sameShape(
      Payload.make(Event.ParticipantRestarted, { participant: "p", attempt: 2 }),
      new Event.ParticipantRestarted({ participant: "p", attempt: 2 })
    )
  })
})

describe("reading a delta off its JSON text (SQL rows)", () => {
  const deltas = FastCheck.oneof(
    Arbitrary.make(Event.TextDelta),
    Arbitrary.make(Event.RefusalDelta),
    Arbitrary.make(Event.ReasoningSummaryDelta),
    Arbitrary.make(Event.ReasoningDelta),
    Arbitrary.make(Event.FunctionCallArgumentsDelta)
  )
  // The text the SQL journal writes (and the Schema's own encoding of it: the same text).
  const json = (payload: Event.Payload) => {
    const text = Either.getOrThrow(Codec.encodePayloadJson(payload))
    assert.strictEqual(text, JSON.stringify(Schema.encodeSync(Event.Payload)(payload)))
    return text
  }
  const decoded = (text: string) => Schema.decodeUnknownSync(Event.Payload)(JSON.parse(text))

  it("builds what the Schema decode builds, or gives up (property)", () => {
    let read = 0
    FastCheck.assert(
      FastCheck.property(deltas, (payload) => {
        const text = json(payload)
        const built = DeltaText.fromJson(payload._tag, text)
        if (built === undefined) return
        read++
        sameShape(built, decoded(text))
      }),
      { numRuns: 3_000 }
    )
    assert.isAbove(read, 100)
    // Not a property that holds by giving up: plain strings and indexes are always read.
    const plain = FastCheck.tuple(
      deltas,
      FastCheck.stringMatching(/^[a-zA-Z0-9 _.,:;!?ëæ€😀-]*$/u),
      FastCheck.stringMatching(/^[a-zA-Z0-9 _.,:;!?ëæ€😀-]*$/u),
      FastCheck.nat()
    ).map(([payload, itemId, delta, index]) =>
      Payload.delta(payload._tag, itemId, payload._tag === "FunctionCallArgumentsDelta" ? 0 : index, delta)
    )
    FastCheck.assert(
      FastCheck.property(plain, (payload) => {
        const text = json(payload)
        const built = DeltaText.fromJson(payload._tag, text)
        assert.ok(built !== undefined, `gave up on ${text}`)
        sameShape(built, decoded(text))
      }),
      { numRuns: 2_000 }
    )
  })

  it("gives up on garbage and on anything not laid out as the encoder writes it", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"a\\"b","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"a\\u0062","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"a"b","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"a\nb","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":01,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":-1,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":1.5,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":1e3,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":1234567890123456,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"RefusalDelta"}`],
      ["RefusalDelta", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","summaryIndex":0,"delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"contentIndex":0,"itemId":"m","delta":"x","_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"x","extra":1,"_tag":"TextDelta"}`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"TextDelta"} `],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":"x"`],
      ["TextDelta", `{"itemId":"m","contentIndex":0,"delta":`],
      ["TextDelta", `{"itemId":"m`],
      ["TextDelta", ""],
      ["FunctionCallArgumentsDelta", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"FunctionCallArgumentsDelta"}`],
      ["ItemAdded", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"TextDelta"}`],
      ["toString", `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"toString"}`]
    ]
    for (const [tag, text] of cases) assert.strictEqual(DeltaText.fromJson(tag, text), undefined, text)
  })

  it("on any text, gives up or builds what the Schema decode of that text builds (property)", () => {
    const tags = FastCheck.constantFrom("TextDelta", "RefusalDelta", "ReasoningSummaryDelta", "ReasoningDelta", "FunctionCallArgumentsDelta")
    // Texts near the layout: a real delta's JSON with a few characters changed, cut or inserted.
    const near = FastCheck.tuple(deltas, FastCheck.nat(), FastCheck.string({ maxLength: 3 }), FastCheck.nat({ max: 3 })).map(
      ([payload, at, insert, cut]) => {
        const text = json(payload)
        const i = at % (text.length + 1)
        return text.slice(0, i) + insert + text.slice(i + cut)
      }
    )
    FastCheck.assert(
      FastCheck.property(tags, FastCheck.oneof(near, FastCheck.string()), (tag, text) => {
        const built = DeltaText.fromJson(tag, text)
        if (built === undefined) return
        const expected = decoded(text)
        assert.strictEqual(expected._tag, tag)
        sameShape(built, expected)
      }),
      { numRuns: 5_000 }
    )
  })
})

describe("a SQL row's checksum", () => {
  it("is the CRC of `sequence:timestamp:tag:authorLength:author` then the payload, continued from the seed (property)", () => {
    const integer = FastCheck.oneof(
      FastCheck.nat(),
      FastCheck.maxSafeNat(),
      FastCheck.integer(),
      FastCheck.double(),
      FastCheck.constantFrom(-0, 0, 9, 10, 99_999_999, 100_000_000, 100_000_001, 1_700_000_000_000, 1_000_000_000_007, Number.MAX_SAFE_INTEGER)
    )
    FastCheck.assert(
      FastCheck.property(integer, integer, FastCheck.string(), FastCheck.string({ unit: "grapheme" }), FastCheck.string(), FastCheck.nat(), (sequence, timestamp, tag, author, payload, seed) => {
        const text = `${sequence}:${timestamp}:${tag}:${author.length}:${author}${payload}`
        assert.strictEqual(SqlRow.rowCrc(sequence, author, timestamp, tag, payload, seed), Zlib.crc32(text, seed))
      }),
      { numRuns: 3_000 }
    )
  })
})

describe("a SQLite row read as one text", () => {
  const payloadJson = (payload: Event.Payload) => Either.getOrThrow(Codec.encodePayloadJson(payload))
  /** The row's columns, as the journal writes them (checksum continued from `seed`) and SQLite returns them (no -0). */
  const columnsOf = (event: Event.Event, seed: number) => {
    const payload = payloadJson(event.payload)
    const crc = SqlRow.rowCrc(event.sequence, event.author, event.timestamp, event.payload._tag, payload, seed)
    return [event.sequence + 0, event.author, event.timestamp + 0, event.payload._tag, payload, Checksum.hex(crc)] as const
  }
  // Envelope numbers mostly as the environment stamps them (sequences, millisecond timestamps), some anything.
  const envelopeNumber = FastCheck.oneof({ weight: 4, arbitrary: FastCheck.nat() }, { weight: 1, arbitrary: FastCheck.double() })
  /** `Row.rowText` as SQLite computes it: `length()` counts characters (code points), not UTF-16 units. */
  const textOf = ([sequence, author, timestamp, tag, payload, checksum]: ReturnType<typeof columnsOf>) =>
    `${checksum}${sequence}:${timestamp}:${tag}:${[...author].length}:${author}${payload}`

  it("builds what the columns build, with the same chain, or gives up (property)", () => {
    let read = 0
    FastCheck.assert(
      FastCheck.property(events, envelopeNumber, envelopeNumber, FastCheck.string({ unit: "grapheme", maxLength: 8 }), FastCheck.nat(), (event, sequence, timestamp, author, seed) => {
        const row = new Event.Event({ ...event, sequence, timestamp, author }, true)
        const columns = columnsOf(row, seed)
        const byColumns = new SqlRow.Reader(true)
        const expected = byColumns.check(columns, row.sequence, seed)
        const byText = new SqlRow.Reader(true)
        const built = byText.checkText(textOf(columns), row.sequence, seed)
        if (built === undefined) return
        read++
        assert.ok(typeof expected !== "string", "the columns say the row is corrupted")
        sameShape(built, expected)
        assert.strictEqual(byText.chain, byColumns.chain)
      }),
      { numRuns: 2_000 }
    )
    assert.isAbove(read, 200)
  })

  it("never gives up on a delta as this code writes it, with any author inside the BMP and without a NUL (property)", () => {
    // (SQLite's length() also stops at a NUL: such an author is read by columns, see Journal.test.ts.)
    const bmp = FastCheck.string({ unit: "binary", maxLength: 12 }).filter((author) => [...author].length === author.length && !author.includes("\u0000"))
    FastCheck.assert(
      FastCheck.property(bmp, FastCheck.nat({ max: 2 ** 40 }), FastCheck.stringMatching(/^[a-z0-9 ,.:;ëæ€😀-]*$/u), FastCheck.nat(), (author, sequence, delta, seed) => {
        const event = new Event.Event({ sequence, author, timestamp: 1_700_000_000_000 + sequence, payload: Event.unsafeTextDelta("m1", 0, delta) }, true)
        const columns = columnsOf(event, seed)
        const reader = new SqlRow.Reader(true)
        const built = reader.checkText(textOf(columns), sequence, seed)
        assert.ok(built !== undefined, `gave up on ${textOf(columns)}`)
        sameShape(built, event)
        assert.strictEqual(reader.chain, SqlRow.parseChecksum(columns[5]))
      }),
      { numRuns: 1_000 }
    )
  })

  it("gives up on what it cannot vouch for: a changed byte, an author outside the BMP, another sequence, garbage", () => {
    const event = new Event.Event({ sequence: 4, author: "zoë", timestamp: 1_700_000_000_004, payload: Event.unsafeTextDelta("m1", 0, "hi") }, true)
    const text = textOf(columnsOf(event, 7))
    const reader = () => new SqlRow.Reader(true)
    assert.ok(reader().checkText(text, 4, 7) !== undefined)
    assert.isUndefined(reader().checkText(text.replace("hi", "ho"), 4, 7))
    assert.isUndefined(reader().checkText(text, 4, 8), "another chain before it")
    assert.isUndefined(reader().checkText(text, 5, 7), "another sequence")
    const fox = new Event.Event({ sequence: 4, author: "🦊", timestamp: 1, payload: Event.unsafeTextDelta("m1", 0, "hi") }, true)
    assert.isUndefined(reader().checkText(textOf(columnsOf(fox, 0)), 4, 0), "SQLite counts 1 character, the checksum 2 units")
    for (const garbage of [null, 12, "", "0000000", "zzzzzzzz4:1:TextDelta:0:{}", text.slice(0, 20), `${text.slice(0, 8)}x${text.slice(8)}`]) {
      assert.isUndefined(reader().checkText(garbage, 4, 7), String(garbage))
    }
  })
})

describe("trusted decode of records", () => {
  it("an own __proto__ key in a record is left to the full decode (it would set the prototype)", () => {
    const resolved = new Event.ElicitationResolved({ elicitationId: "e", action: "accept", by: "h", content: { a: "x" } })
    const value = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: resolved })).replace("{\"a\":\"x\"}", "{\"__proto__\":[\"x\"]}"))
    assert.strictEqual(Trusted.decodeEvent(value), undefined)
  })
})

/** A file journal line as the file journal writes it (its checksum field left at zero: the reader does not check it). */
const fileLine = (event: Event.Event) => new TextEncoder().encode(`${schemaJson(event).slice(0, -1)},"crc":"00000000"}`)

describe("reading a journal line's envelope off its bytes", () => {
  it("builds what the Schema decode of the whole line builds, or gives up (property)", () => {
    let read = 0
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        const line = fileLine(event)
        const built = new FileFormat.EnvelopeReader().event(line, 0, line.length)
        if (built === undefined) return
        read++
        sameShape(built, Schema.decodeUnknownSync(Event.Event)(JSON.parse(schemaJson(event))))
      }),
      { numRuns: 2_000 }
    )
    assert.isAbove(read, 20)
    // Not a property that holds by giving up: an envelope in its plain form (a name without escapes, an integer
    // timestamp) is always read off the bytes.
    const plain = events.map((event) =>
      new Event.Event({ sequence: event.sequence, author: "agent", timestamp: Math.floor(Math.abs(event.timestamp)) % 2 ** 45, payload: event.payload }))
    FastCheck.assert(
      FastCheck.property(plain, (event) => {
        const line = fileLine(event)
        const built = new FileFormat.EnvelopeReader().event(line, 0, line.length)
        assert.ok(built !== undefined, "the envelope reader gave up on a plain envelope")
        sameShape(built, Schema.decodeUnknownSync(Event.Event)(JSON.parse(schemaJson(event))))
      }),
      { numRuns: 1_000 }
    )
  })

  it("reads plain fields off the bytes, and gives up on anything else (the caller then parses the whole line)", () => {
    const delta = new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" })
    const reader = new FileFormat.EnvelopeReader()
    const at = (text: string) => {
      const line = new TextEncoder().encode(text)
      return reader.event(line, 0, line.length)
    }
    const plain = new Event.Event({ sequence: 7, author: "zoë", timestamp: 1_700_000_000_123, payload: delta })
    sameShape(at(new TextDecoder().decode(fileLine(plain))), plain)
    // Read twice by the same reader (its remembered author): still the same.
    sameShape(at(new TextDecoder().decode(fileLine(plain))), plain)
    // A name that begins with a byte order mark keeps it (a UTF-8 decoder drops a leading BOM by default).
    const marked = new Event.Event({ sequence: 8, author: "\uFEFFbob", timestamp: 1, payload: delta })
    const markedLine = fileLine(marked)
    assert.strictEqual(reader.event(markedLine, 0, markedLine.length)?.author ?? "\uFEFFbob", "\uFEFFbob")
    const payload = JSON.stringify(Schema.encodeSync(Event.Payload)(delta))
    const crc = `,"crc":"00000000"}`
    for (
      const line of [
        `{"sequence":7,"author":"a\\"b","timestamp":1,"payload":${payload}${crc}`,
        `{"sequence":7,"author":"a\\u0062","timestamp":1,"payload":${payload}${crc}`,
        `{"sequence":7,"author":"a","timestamp":1.5,"payload":${payload}${crc}`,
        `{"sequence":7,"author":"a","timestamp":1e3,"payload":${payload}${crc}`,
        `{"sequence":7,"author":"a","timestamp":-1,"payload":${payload}${crc}`,
        `{"sequence":07,"author":"a","timestamp":1,"payload":${payload}${crc}`,
        `{"sequence":1234567890123456,"author":"a","timestamp":1,"payload":${payload}${crc}`,
        `{"author":"a","sequence":7,"timestamp":1,"payload":${payload}${crc}`,
        `{"sequence":7,"author":"a","timestamp":1,"payload":${payload},"extra":1${crc}`,
        `{"sequence":7,"author":"a","timestamp":1,"payload":{"_tag":"NoSuchEvent"}${crc}`,
        `{"sequence":7,"author":"a","timestamp":1,"payload":{"_tag":"TextDelta"${crc}`
      ]
    ) {
      assert.strictEqual(at(line), undefined, line)
    }
  })
})

const deltas: FastCheck.Arbitrary<Event.Delta> = FastCheck.oneof(
  Arbitrary.make(Event.TextDelta),
  Arbitrary.make(Event.RefusalDelta),
  Arbitrary.make(Event.ReasoningDelta),
  Arbitrary.make(Event.ReasoningSummaryDelta),
  Arbitrary.make(Event.FunctionCallArgumentsDelta)
)
const encoder = new TextEncoder()
const payloadBytes = (payload: Event.Payload) => encoder.encode(TrustedEncode.encodePayload(payload)!)
const readDelta = (bytes: Uint8Array) => new FileDelta.DeltaReader(new FileStrings.PlainStrings()).payload(bytes, 0, bytes.length)
/** What the Schema decode makes of these payload bytes, or undefined when they are no payload. */
const schemaPayload = (bytes: Uint8Array): Event.Payload | undefined => {
  try {
    const decoded = Schema.decodeUnknownEither(Event.Payload)(JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes)))
    return Either.isRight(decoded) ? decoded.right : undefined
  } catch {
    return undefined
  }
}
/** Does JSON write this string as its characters between quotes (no escape)? */
const plain = (text: string) => JSON.stringify(text).length === text.length + 2

describe("reading a delta's payload off a line's bytes", () => {
  it("builds what the Schema decode builds, and never gives up on a delta with plain strings (property)", () => {
    FastCheck.assert(
      FastCheck.property(deltas, (delta) => {
        const bytes = payloadBytes(delta)
        const built = readDelta(bytes)
        if (plain(delta.itemId) && plain(delta.delta)) assert.ok(built !== undefined, `gave up on ${TrustedEncode.encodePayload(delta)}`)
        if (built === undefined) return
        sameShape(built, schemaPayload(bytes))
        sameShape(built, delta)
      }),
      { numRuns: 3_000 }
    )
  })

  it("on garbage (bytes changed, cut or inserted) it builds what the Schema decode builds, or gives up (property)", () => {
    let read = 0
    FastCheck.assert(
      FastCheck.property(
        deltas,
        FastCheck.nat(),
        FastCheck.integer({ min: 0, max: 255 }),
        FastCheck.constantFrom("replace", "cut", "insert"),
        (delta, at, byte, change) => {
          const original = payloadBytes(delta)
          const position = at % original.length
          const bytes = change === "replace"
            ? original.map((value, i) => i === position ? byte : value)
            : change === "cut"
            ? new Uint8Array([...original.subarray(0, position), ...original.subarray(position + 1)])
            : new Uint8Array([...original.subarray(0, position), byte, ...original.subarray(position)])
          const built = readDelta(bytes)
          if (built === undefined) return
          read++
          const expected = schemaPayload(bytes)
          assert.ok(expected !== undefined, `read a payload the Schema rejects: ${new TextDecoder().decode(bytes)}`)
          sameShape(built, expected)
        }
      ),
      { numRuns: 5_000 }
    )
    // Changes that keep a valid delta (a letter of its text) are read, not only given up on.
    assert.isAbove(read, 100)
  })

  it("reads each kind and any UTF-8 text; gives up on escapes, other layouts and invalid bytes", () => {
    const cases: ReadonlyArray<Event.Delta> = [
      new Event.TextDelta({ itemId: "m1", contentIndex: 0, delta: "word0 " }),
      new Event.TextDelta({ itemId: "m1", contentIndex: 12, delta: "a longer piece of text than sixteen bytes" }),
      new Event.RefusalDelta({ itemId: "m1", contentIndex: 1, delta: "no" }),
      new Event.ReasoningDelta({ itemId: "m1", contentIndex: 2, delta: "" }),
      new Event.ReasoningSummaryDelta({ itemId: "m1", summaryIndex: 3, delta: "zoë 🎉" }),
      new Event.FunctionCallArgumentsDelta({ itemId: "call_1", delta: "{\"a\":" }),
      // A text that begins with U+FEFF keeps it (a UTF-8 decoder drops a leading byte order mark by default).
      new Event.TextDelta({ itemId: "\uFEFFm", contentIndex: 0, delta: "\uFEFFhi" })
    ]
    const reader = new FileDelta.DeltaReader(new FileStrings.PlainStrings())
    for (const delta of cases) {
      const bytes = payloadBytes(delta)
      const built = reader.payload(bytes, 0, bytes.length)
      if (delta._tag === "FunctionCallArgumentsDelta") {
        // Its text has quotes: escaped in JSON, left to the full parse.
        assert.strictEqual(built, undefined)
        continue
      }
      sameShape(built, delta)
      // Read again by the same reader (its remembered item id): still the same.
      sameShape(reader.payload(bytes, 0, bytes.length), delta)
    }
    for (
      const text of [
        `{"itemId":"m","contentIndex":0,"delta":"a\\nb","_tag":"TextDelta"}`,
        `{"itemId":"m\\u0031","contentIndex":0,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":0,"delta":"tab\there","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":01,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":1.5,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":-1,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":1234567890123456,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","summaryIndex":0,"delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"ReasoningSummaryDelta"}`,
        `{"itemId":"m","delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"TextDeltaX"}`,
        `{"itemId":"m","contentIndex":0,"delta":"x","extra":1,"_tag":"TextDelta"}`,
        `{"contentIndex":0,"itemId":"m","delta":"x","_tag":"TextDelta"}`,
        `{"itemId":"m","contentIndex":0,"delta":"x","_tag":"TextDelta"`,
        `{"itemId":"m","contentIndex":0,"delta":"x"}`
      ]
    ) {
      assert.strictEqual(readDelta(encoder.encode(text)), undefined, text)
    }
    // Not UTF-8 (a lone continuation byte), in the text and in the item id.
    const invalid = encoder.encode(`{"itemId":"m","contentIndex":0,"delta":"x?","_tag":"TextDelta"}`)
    invalid[invalid.indexOf(63)] = 0x80
    assert.strictEqual(readDelta(invalid), undefined)
    const invalidItem = encoder.encode(`{"itemId":"m?","contentIndex":0,"delta":"x","_tag":"TextDelta"}`)
    invalidItem[invalidItem.indexOf(63)] = 0xc3
    assert.strictEqual(readDelta(invalidItem), undefined)
  })
})

describe("trusted envelope from columns", () => {
  it("builds what the Schema decode builds (property)", () => {
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        // The columns as a journal reads them back (JSON has no -0).
        const value = JSON.parse(schemaJson(event))
        const built = Trusted.makeEvent(value.sequence, value.author, value.timestamp, value.payload)
        assert.ok(built !== undefined, "the trusted decode gave up")
        sameShape(built, Schema.decodeUnknownSync(Event.Event)(JSON.parse(schemaJson(event))))
      }),
      { numRuns: 1_000 }
    )
  })
})

describe("journal checksums", () => {
  it("the CRC computed here is zlib's CRC-32, over any range and any text (property)", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.uint8Array({ maxLength: 9_000 }),
        FastCheck.nat(),
        FastCheck.nat(),
        FastCheck.integer({ min: 0, max: 0xffffffff }),
        FastCheck.string({ unit: "binary" }),
        (bytes, a, b, seed, text) => {
          const start = bytes.length === 0 ? 0 : a % bytes.length
          const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
          // Nothing continues the chain unchanged (zlib answers 0 for no bytes).
          const expected = end > start ? Zlib.crc32(bytes.subarray(start, end), seed) : seed
          assert.strictEqual(Checksum.crc32(bytes, seed, start, end), expected)
          assert.strictEqual(Checksum.crc32Table(bytes, seed, start, end), expected)
          assert.strictEqual(Checksum.crc32Text(text, seed), text.length > 0 ? Zlib.crc32(text, seed) : seed)
          const from = text.length === 0 ? 0 : a % text.length
          assert.strictEqual(Checksum.crc32Text(text, seed, from), from < text.length ? Zlib.crc32(text.slice(from), seed) : seed)
          if (bytes.length > 0) assert.strictEqual(Checksum.crc32Byte(bytes[0]!, seed), Zlib.crc32(bytes.subarray(0, 1), seed))
        }
      ),
      { numRuns: 1_000 }
    )
  })
})
