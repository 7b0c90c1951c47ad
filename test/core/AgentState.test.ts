import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, HashMap, Option, Schema, Stream } from "effect"
import { Activity, Commands, Event, Journal, Reducer } from "@chorus/core"

// One spelling for each state: an agent's states are spelled like the `Commands` statuses
// (`awaiting_approval`), and journals written with the old hyphenated spelling still read.

const stamp = (sequence: number, payload: Event.Payload) =>
  new Event.Event({ sequence, author: "ops", timestamp: 0, payload })

const changes: ReadonlyArray<readonly [Event.AgentState, Event.AgentState]> = [
  ["idle", "inference"],
  ["inference", "function_calls"],
  ["function_calls", "awaiting_approval"]
]

const journalEvents = [
  stamp(0, new Event.ParticipantJoined({ participant: "ops", kind: "agent" })),
  ...changes.map(([from, to], index) => stamp(index + 1, new Event.StateChanged({ participant: "ops", runId: "r1", from, to })))
]

describe("Agent states", () => {
  it("are spelled like the Commands statuses on the wire", () => {
    const awaiting: Commands.Status & Event.AgentState = "awaiting_approval"
    const line = Schema.encodeSync(Event.Json)(journalEvents[3]!)
    assert.include(line, `"to":"${awaiting}"`)
    assert.include(line, `"from":"function_calls"`)
  })

  it("decode from an older journal written with hyphens, to the one spelling", () => {
    const line = Schema.encodeSync(Event.Json)(journalEvents[3]!)
      .replace("function_calls", "function-calls")
      .replace("awaiting_approval", "awaiting-approval")
    assert.include(line, "awaiting-approval")
    const decoded = Schema.decodeUnknownSync(Event.Json)(line)
    assert.deepStrictEqual(decoded.payload, new Event.StateChanged({ participant: "ops", runId: "r1", from: "function_calls", to: "awaiting_approval" }))
    // Re-encoded in the one spelling.
    assert.include(Schema.encodeSync(Event.Json)(decoded), "\"to\":\"awaiting_approval\"")
  })

  it("an unknown state is still a decoding error", () => {
    const line = Schema.encodeSync(Event.Json)(journalEvents[3]!).replace("awaiting_approval", "awaiting approval")
    assert.isTrue(Schema.decodeUnknownEither(Event.Json)(line)._tag === "Left")
  })

  it.scoped("an older file journal in the old spelling opens, and a UI folds it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectoryScoped({ prefix: "chorus-agent-state-" })
      const path = `${directory}/old.jsonl`
      // An older journal: no header, no checksums, hyphenated states.
      const lines = journalEvents.map((event) =>
        Schema.encodeSync(Event.Json)(event).replace(/function_calls/g, "function-calls").replace(/awaiting_approval/g, "awaiting-approval")
      )
      assert.include(lines.join("\n"), "\"to\":\"awaiting-approval\"")
      yield* fs.writeFileString(path, lines.map((line) => `${line}\n`).join(""))
      const journal = yield* Journal.makeFile(path)
      const read = Chunk.toReadonlyArray(yield* Stream.runCollect(journal.read()))
      assert.deepStrictEqual(
        read.flatMap((event) => event.payload._tag === "StateChanged" ? [`${event.payload.from}->${event.payload.to}`] : []),
        ["idle->inference", "inference->function_calls", "function_calls->awaiting_approval"]
      )
      const activity = Reducer.run(Activity.reducer, read)
      assert.strictEqual(Option.getOrUndefined(HashMap.get(activity.participants, "ops"))?.state, "awaiting_approval")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
