import { assert, describe, it } from "@effect/vitest"
import { Chunk, FastCheck, HashMap, HashSet } from "effect"
import { Activity, Commands, ContextItem, Event, Reducer } from "@chorus/core"

// Random valid command lifecycles, interleaved: each call goes requested -> [approval] -> ... -> an end.
const lifecycle = (callId: string) =>
  FastCheck.record({
    approval: FastCheck.constantFrom("none", "approved", "rejected", "cancelled-waiting"),
    end: FastCheck.constantFrom("completed", "error", "failed", "cancelled"),
    progress: FastCheck.nat({ max: 3 })
  }).map(({ approval, end, progress }) => {
    const steps: Array<Event.Payload> = [
      new Event.FunctionCallRequested({ runId: "r", callId, name: "tool", arguments: "{}" })
    ]
    if (approval !== "none") steps.push(new Event.ApprovalRequested({ runId: "r", callId, name: "tool", arguments: "{}" }))
    if (approval === "rejected") {
      steps.push(new Event.FunctionCallRejected({ callId, by: "alice", reason: "no" }))
      steps.push(new Event.FunctionCallCancelled({ callId, reason: "rejected: no" }))
      return steps
    }
    if (approval === "cancelled-waiting") {
      steps.push(new Event.FunctionCallCancelled({ callId, reason: "interrupted" }))
      return steps
    }
    if (approval === "approved") steps.push(new Event.FunctionCallApproved({ callId, by: "alice" }))
    steps.push(new Event.FunctionCallStarted({ callId, name: "tool" }))
    for (let i = 1; i <= progress; i++) steps.push(new Event.FunctionCallProgress({ callId, progress: i, total: progress, message: null }))
    if (end === "completed") steps.push(new Event.FunctionCallCompleted({ callId, isError: false }))
    if (end === "error") steps.push(new Event.FunctionCallCompleted({ callId, isError: true }))
    if (end === "failed") steps.push(new Event.FunctionCallFailed({ callId, error: "boom" }))
    if (end === "cancelled") steps.push(new Event.FunctionCallCancelled({ callId, reason: "interrupted" }))
    return steps
  })

const interleavings = FastCheck.array(FastCheck.nat({ max: 5 }), { minLength: 1, maxLength: 8 }).chain((ids) =>
  FastCheck.tuple(...ids.map((_, i) => lifecycle(`call-${i}`))).chain((lists) =>
    FastCheck.shuffledSubarray(lists.flatMap((steps, list) => steps.map((_, index) => ({ list, index }))), {
      minLength: lists.reduce((n, steps) => n + steps.length, 0)
    }).map((order) => {
      // Keep each call's own order while interleaving calls.
      const next = lists.map(() => 0)
      return order.map(({ list }) => lists[list]![next[list]!++]!)
    })
  )
)

const stamp = (payloads: ReadonlyArray<Event.Payload>) =>
  payloads.map((payload, sequence) =>
    new Event.Event({ sequence, author: payload._tag === "FunctionCallRequested" ? "agent" : "alice", timestamp: sequence, payload }))

describe("Reducers", () => {
  it("the command reducer is deterministic and ends each call in the state of its last step (property)", () => {
    FastCheck.assert(
      FastCheck.property(interleavings, (payloads) => {
        const events = stamp(payloads)
        const once = Reducer.run(Commands.reducer, events)
        const twice = Reducer.run(Commands.reducer, events)
        assert.deepStrictEqual([...HashMap.entries(once)].sort(), [...HashMap.entries(twice)].sort())
        // Folding in two halves gives the same state as folding at once (replay from a snapshot).
        const half = Math.floor(events.length / 2)
        const resumed = events.slice(half).reduce(Commands.reducer.reduce, Reducer.run(Commands.reducer, events.slice(0, half)))
        assert.deepStrictEqual([...HashMap.entries(resumed)].sort(), [...HashMap.entries(once)].sort())
        for (const command of HashMap.values(once)) {
          const last = payloads.filter((payload) => "callId" in payload && payload.callId === command.callId).at(-1)!
          const expected = {
            FunctionCallCompleted: (last as Event.FunctionCallCompleted).isError ? "failed" : "completed",
            FunctionCallFailed: "failed",
            FunctionCallCancelled: payloads.some((p) => p._tag === "FunctionCallRejected" && p.callId === command.callId) ? "rejected" : "cancelled"
          }[last._tag as string]
          assert.strictEqual(command.status, expected)
        }
        assert.strictEqual(Commands.pendingApprovals(once).length, 0)
      }),
      { numRuns: 300 }
    )
  })

  it("the UI reducer is deterministic: same events, same state (property)", () => {
    FastCheck.assert(
      FastCheck.property(interleavings, (payloads) => {
        const events = stamp([
          new Event.ParticipantJoined({ participant: "agent", kind: "agent" }),
          new Event.RunStarted({ participant: "agent", runId: "r", trigger: null }),
          ...payloads
        ])
        const a = Reducer.run(Activity.reducer, events)
        const b = Reducer.run(Activity.reducer, events)
        assert.isTrue(HashSet.size(a.pendingApprovals) === 0 && HashSet.size(b.pendingApprovals) === 0)
        assert.deepStrictEqual(HashMap.get(a.participants, "agent"), HashMap.get(b.participants, "agent"))
        assert.isTrue(Activity.canInterrupt(a, "agent"))
      }),
      { numRuns: 200 }
    )
  })

  it("the UI reducer tracks pending approvals, interruptible runs and queue lengths", () => {
    const events = stamp([
      new Event.ParticipantJoined({ participant: "agent", kind: "agent" }),
      new Event.RunStarted({ participant: "agent", runId: "r1", trigger: "m1" }),
      new Event.StateChanged({ participant: "agent", runId: "r1", from: "idle", to: "inference" }),
      new Event.InputQueued({ participant: "agent", itemId: "m2", position: 1 }),
      new Event.InputQueued({ participant: "agent", itemId: "m3", position: 2 }),
      new Event.ApprovalRequested({ runId: "r1", callId: "c1", name: "rm", arguments: "{}" })
    ])
    const during = Reducer.run(Activity.reducer, events)
    const agent = HashMap.unsafeGet(during.participants, "agent")
    assert.strictEqual(agent.queued, 2)
    assert.strictEqual(agent.state, "inference")
    assert.isTrue(Activity.canInterrupt(during, "agent"))
    assert.deepStrictEqual([...during.pendingApprovals], ["c1"])
    const after = Reducer.run(Activity.reducer, [
      ...events,
      ...stamp([
        new Event.FunctionCallApproved({ callId: "c1", by: "alice" }),
        new Event.RunEnded({ participant: "agent", runId: "r1", outcome: "completed", detail: null }),
        new Event.InputDequeued({ participant: "agent", itemId: "m2", runId: "r2" }),
        new Event.InputDequeued({ participant: "agent", itemId: "m3", runId: "r2" })
      ]).map((event, i) => new Event.Event({ ...event, sequence: 100 + i }))
    ])
    assert.strictEqual(HashMap.unsafeGet(after.participants, "agent").queued, 0)
    assert.isFalse(Activity.canInterrupt(after, "agent"))
    assert.strictEqual(HashSet.size(after.pendingApprovals), 0)
  })

  it("the transcript folds deltas into items, and replay gives the same items", () => {
    const added = new Event.ItemAdded({
      item: new ContextItem.ModelMessage({ id: "m", author: "a", status: "in_progress", content: [] }),
      runId: null
    })
    const events = stamp([
      added,
      new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "Hel" }),
      new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "lo" }),
      new Event.RefusalDelta({ itemId: "m", contentIndex: 1, delta: "no" })
    ])
    const state = Reducer.run(Reducer.transcript, events)
    const [item] = Reducer.items(state)
    assert.strictEqual(Chunk.size(state.order), 1)
    assert.strictEqual(item!._tag, "ModelMessage")
    assert.strictEqual(ContextItem.text(item!), "Hellono")
    assert.strictEqual(item!.status, "in_progress")
    assert.deepStrictEqual(Reducer.items(Reducer.run(Reducer.transcript, events)), [item])
  })
})
