/**
 * The agent's controller is a pure decider (`internal/agent/controller.ts`): each input gives the next state and
 * the commands to run, as data. These tests read the decisions without running an agent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, HashSet } from "effect"
import { ContextItem, Event } from "@chorus/core"
import * as Controller from "../../packages/core/src/internal/agent/controller.js"
import * as Run from "../../packages/core/src/internal/agent/run.js"

const settings: Controller.Settings = { me: "bot", exchangeCap: 2 }

const entry = (sequence: number, author = "alice"): Controller.Queued => {
  const item = ContextItem.userText({ id: `m${sequence}`, author, text: `hello ${sequence}` })
  const payload = new Event.ItemDone({ item, runId: null, to: [], policy: null })
  return { item, event: Event.unsafeMake({ sequence, author, timestamp: 0, payload }) }
}

const trigger = (sequence: number, policy: Event.BusyPolicy = "queue", fromAgent = false) =>
  Controller.Input.Trigger({ entry: entry(sequence, fromAgent ? "other" : "alice"), fromAgent, policy })

/** Commands as short strings: what a reader checks. */
const spell = (commands: ReadonlyArray<Controller.Command>) =>
  commands.map((command) => {
    switch (command._tag) {
      case "Publish":
        return `publish ${command.payload._tag}${"itemId" in command.payload ? ` ${command.payload.itemId}` : ""}`
      case "StartRun":
        return `start ${command.runId}`
      case "StopRun":
        return `stop (${command.reason})`
    }
  })

/** Folds inputs from the initial state, collecting every command. */
const play = (...inputs: ReadonlyArray<Controller.Input>) => {
  let state = Controller.initial
  const commands: Array<string> = []
  for (const input of inputs) {
    const [next, issued] = Controller.decide(settings, state, input)
    state = next
    commands.push(...spell(issued))
  }
  return { state, commands }
}

describe("Agent controller (pure decider)", () => {
  it("an idle agent starts a run for a triggering message, a busy one queues the next", () => {
    const { commands, state } = play(trigger(1), trigger(2))
    assert.deepStrictEqual(commands, [
      "publish RunStarted",
      "start bot_run_1",
      "publish InputQueued m2"
    ])
    assert.strictEqual(state.running, "bot_run_1")
    assert.deepStrictEqual(Chunk.toReadonlyArray(Chunk.map(state.queue, (queued) => queued.item.id)), ["m2"])
  })

  it("the run's end starts the queue as one batch, dequeuing each message into the context", () => {
    const { commands, state } = play(trigger(1), trigger(2), trigger(3), Controller.Input.RunEnded({ runId: "bot_run_1" }))
    assert.deepStrictEqual(commands.slice(4), [
      "publish InputDequeued m2",
      "publish InputDequeued m3",
      "publish RunStarted",
      "start bot_run_2"
    ])
    assert.strictEqual(state.running, "bot_run_2")
    assert.strictEqual(Chunk.size(state.queue), 0)
    assert.strictEqual(HashSet.size(state.deferred), 0)
  })

  it("the end of another run changes nothing", () => {
    const { commands, state } = play(trigger(1), Controller.Input.RunEnded({ runId: "bot_run_0" }))
    assert.strictEqual(commands.length, 2)
    assert.strictEqual(state.running, "bot_run_1")
  })

  it("an interrupting message stops the run, then starts its own first", () => {
    const { commands, state } = play(trigger(1), trigger(2), trigger(3, "interrupt"))
    assert.deepStrictEqual(commands.slice(3), [
      "publish InputQueued m3",
      "stop (interrupted by a message from alice)",
      "publish InputDequeued m3",
      "publish InputDequeued m2",
      "publish RunStarted",
      "start bot_run_3"
    ])
    assert.strictEqual(state.running, "bot_run_3")
  })

  it("a steered message waits for the next model call; left over, it is queued first", () => {
    const steered = play(trigger(1), trigger(2), trigger(3, "steer"))
    assert.deepStrictEqual(steered.commands.slice(2), ["publish InputQueued m2"])
    const [taken, after] = Controller.takeSteered(steered.state)
    assert.deepStrictEqual(Chunk.toReadonlyArray(Chunk.map(taken, (queued) => queued.item.id)), ["m3"])
    assert.isFalse(HashSet.has(after.deferred, "m3"))
    const [, ended] = Controller.decide(settings, steered.state, Controller.Input.RunEnded({ runId: "bot_run_1" }))
    assert.deepStrictEqual(spell(ended), [
      "publish InputQueued m3",
      "publish InputDequeued m3",
      "publish InputDequeued m2",
      "publish RunStarted",
      "start bot_run_3"
    ])
  })

  it("a dropped message is refused visibly and changes nothing else", () => {
    const { commands, state } = play(trigger(1), trigger(2, "drop"))
    assert.deepStrictEqual(commands.slice(2), ["publish InputDropped m2"])
    assert.strictEqual(Chunk.size(state.queue), 0)
  })

  it("interrupts: ignored when idle or for another run, else a stop", () => {
    assert.deepStrictEqual(play(Controller.Input.Interrupt({ runId: null, by: "alice" })).commands, ["publish InterruptIgnored"])
    const other = play(trigger(1), Controller.Input.Interrupt({ runId: "bot_run_0", by: "alice" }))
    assert.deepStrictEqual(other.commands.slice(2), ["publish InterruptIgnored"])
    assert.strictEqual(other.state.running, "bot_run_1")
    const stopped = play(trigger(1), Controller.Input.Interrupt({ runId: "bot_run_1", by: "alice" }))
    assert.deepStrictEqual(stopped.commands.slice(2), ["stop (interrupted by alice)"])
    assert.strictEqual(stopped.state.running, null)
  })

  it("runs triggered by agents in a row stop at the cap; a human message resets the count", () => {
    const end = (sequence: number) => Controller.Input.RunEnded({ runId: `bot_run_${sequence}` })
    const capped = play(trigger(1, "queue", true), end(1), trigger(2, "queue", true), end(2), trigger(3, "queue", true))
    assert.deepStrictEqual(capped.commands.slice(4), ["publish RunEnded"])
    assert.strictEqual(capped.state.running, null)
    const reset = play(trigger(1, "queue", true), end(1), trigger(2), end(2), trigger(3, "queue", true))
    assert.strictEqual(reset.state.running, "bot_run_3")
  })

  it("the state is data: a decision never changes the state it was given", () => {
    const before = play(trigger(1), trigger(2)).state
    const queue = Chunk.toReadonlyArray(before.queue)
    const deferred = [...before.deferred]
    Controller.decide(settings, before, Controller.Input.RunEnded({ runId: "bot_run_1" }))
    Controller.decide(settings, before, trigger(3, "interrupt"))
    assert.deepStrictEqual(Chunk.toReadonlyArray(before.queue), queue)
    assert.deepStrictEqual([...before.deferred], deferred)
    assert.strictEqual(before.running, "bot_run_1")
  })

  it("closing a failed run: cut items done as incomplete, calls answered in order", () => {
    const run = Run.make("bot", "r1")
    const call = (callId: string) =>
      new ContextItem.FunctionCall({ id: `fc_${callId}`, author: "bot", status: "completed", callId, name: "add", arguments: "{}" })
    run.calls.set("c1", call("c1"))
    run.calls.set("c2", call("c2"))
    const done = Run.output("bot", call("c1"), { output: "3", isError: false })
    run.outputs.set("c1", done)
    const cutMessage = ContextItem.modelText({ id: "m", author: "bot", text: "half" })
    const closing = Run.close("bot", run, [cutMessage, call("c3")], "the run failed")
    assert.deepStrictEqual(spell(closing.commands), [
      "publish ItemDone",
      "publish ItemDone",
      "publish FunctionCallCancelled",
      "publish ItemAdded",
      "publish ItemDone",
      "publish FunctionCallCancelled",
      "publish ItemAdded",
      "publish ItemDone",
    ])
    assert.deepStrictEqual(closing.incompleteItems, ["m", "fc_c3"])
    assert.deepStrictEqual(closing.cancelledCalls, ["c2", "c3"])
    assert.deepStrictEqual(closing.cutCalls.map((cut) => cut.callId), ["c3"])
    // Pure: the run itself is untouched (the interpreter applies the closing).
    assert.strictEqual(run.calls.size, 2)
    assert.strictEqual(run.outputs.size, 1)
  })

  it("stopping a run mid-inference: interruption, closing, end; a run that ended already is left alone", () => {
    const run = Run.make("bot", "r1")
    run.inferenceId = "r1_inf_1"
    run.state = "inference"
    const cut = ContextItem.modelText({ id: "m", author: "bot", text: "half" })
    const stopping = Run.stop("bot", run, [cut], "interrupted by alice")
    assert.deepStrictEqual(spell(stopping.commands), [
      "publish InferenceInterrupted",
      "publish ItemDone",
      "publish RunInterrupted",
      "publish StateChanged",
      "publish RunEnded"
    ])
    run.ended = true
    assert.deepStrictEqual(spell(Run.stop("bot", run, [], "late").commands), ["publish InterruptIgnored"])
    assert.isNull(Run.stop("bot", run, [], "late").closing)
  })

  it("a run failed by a hook says which, closes what it left open, and ends failed", () => {
    const run = Run.make("bot", "r1")
    run.state = "inference"
    const cut = ContextItem.modelText({ id: "m", author: "bot", text: "half" })
    const ended = Run.end("bot", run, [cut], { _tag: "Failed", detail: "boom", hook: { hook: "afterInference", error: "boom" } })
    assert.deepStrictEqual(spell(ended.commands), ["publish HookFailed", "publish ItemDone", "publish StateChanged", "publish RunEnded"])
    const last = ended.commands[ended.commands.length - 1]!
    assert.strictEqual(last._tag === "Publish" && last.payload._tag === "RunEnded" ? last.payload.outcome : null, "failed")
    const finished = Run.end("bot", Run.make("bot", "r2"), [], { _tag: "Finished", outcome: "completed", detail: null })
    assert.deepStrictEqual(spell(finished.commands), ["publish RunEnded"])
    assert.isNull(finished.closing)
  })
})
