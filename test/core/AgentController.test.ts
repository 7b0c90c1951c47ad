/**
 * The agent's controller is a pure decider (`internal/agent/controller.ts`): each input gives the next state and
 * the commands to run, as data. These tests read the decisions without running an agent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, HashSet } from "effect"
import { ContextItem, Event } from "@chorus/core"
import * as Controller from "../../packages/core/src/internal/agent/controller.js"
import * as Run from "../../packages/core/src/internal/agent/run.js"

const settings: Controller.Settings = { me: "bot", exchangeCap: 2, maxTurns: 3, concurrency: 2 }

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
      case "StartInference":
        return `infer ${command.turn}`
      case "StartCall":
        return `call ${command.call.callId} (${command.stage})`
      case "EndRun":
        return `end ${command.ending._tag === "Finished" ? command.ending.outcome : `failed: ${command.ending.detail}`}`
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


/** A run's own event, as the controller receives it. */
const reported = (runId: string, payload: Event.Payload) => Controller.Input.Reported({ runId, payload })

const functionCall = (callId: string) =>
  new ContextItem.FunctionCall({ id: `fc_${callId}`, author: "bot", status: "completed", callId, name: "add", arguments: "{}" })

const output = (callId: string) => Run.output("bot", functionCall(callId), { output: "ok", isError: false })

/** Folds inputs from a given state, collecting every command. */
const play2 = (from: Controller.State, ...inputs: ReadonlyArray<Controller.Input>) => {
  let state = from
  const commands: Array<string> = []
  for (const input of inputs) {
    const [next, issued] = Controller.decide(settings, state, input)
    state = next
    commands.push(...spell(issued))
  }
  return { state, commands }
}

const inferenceStarted = (turn: number) =>
  reported("bot_run_1", new Event.InferenceStarted({ runId: "bot_run_1", inferenceId: `i${turn}`, model: "m" }))
const inferenceCompleted = (turn: number) =>
  reported("bot_run_1", new Event.InferenceCompleted({ runId: "bot_run_1", inferenceId: `i${turn}`, usage: Event.Usage.zero, incompleteReason: null }))
const done = (item: ContextItem.ContextItem) => reported("bot_run_1", new Event.ItemDone({ item, runId: "bot_run_1", to: [], policy: null }))

describe("Agent controller (pure decider)", () => {
  it("an idle agent starts a run for a triggering message, a busy one queues the next", () => {
    const { commands, state } = play(trigger(1), trigger(2))
    assert.deepStrictEqual(commands, [
      "publish RunStarted",
      "start bot_run_1",
      "infer 1",
      "publish InputQueued m2"
    ])
    assert.strictEqual(state.running, "bot_run_1")
    assert.deepStrictEqual(Chunk.toReadonlyArray(Chunk.map(state.queue, (queued) => queued.item.id)), ["m2"])
  })

  it("the run's end starts the queue as one batch, dequeuing each message into the context", () => {
    const { commands, state } = play(trigger(1), trigger(2), trigger(3), Controller.Input.RunEnded({ runId: "bot_run_1" }))
    assert.deepStrictEqual(commands.slice(5), [
      "publish InputDequeued m2",
      "publish InputDequeued m3",
      "publish RunStarted",
      "start bot_run_2",
      "infer 1"
    ])
    assert.strictEqual(state.running, "bot_run_2")
    assert.strictEqual(Chunk.size(state.queue), 0)
    assert.strictEqual(HashSet.size(state.deferred), 0)
  })

  it("the end of another run changes nothing", () => {
    const { commands, state } = play(trigger(1), Controller.Input.RunEnded({ runId: "bot_run_0" }))
    assert.strictEqual(commands.length, 3)
    assert.strictEqual(state.running, "bot_run_1")
  })

  it("an interrupting message stops the run, then starts its own first", () => {
    const { commands, state } = play(trigger(1), trigger(2), trigger(3, "interrupt"))
    assert.deepStrictEqual(commands.slice(4), [
      "publish InputQueued m3",
      "stop (interrupted by a message from alice)",
      "publish InputDequeued m3",
      "publish InputDequeued m2",
      "publish RunStarted",
      "start bot_run_3",
      "infer 1"
    ])
    assert.strictEqual(state.running, "bot_run_3")
  })

  it("a steered message waits for the next model call; left over, it is queued first", () => {
    const steered = play(trigger(1), trigger(2), trigger(3, "steer"))
    assert.deepStrictEqual(steered.commands.slice(3), ["publish InputQueued m2"])
    // A turn with one call: its output starts the next model call, the steered message first.
    const call = functionCall("c1")
    const [calling] = Controller.decide(settings, steered.state, reported("bot_run_1", new Event.InferenceStarted({ runId: "bot_run_1", inferenceId: "i1", model: "m" })))
    const took = play2(
      calling,
      reported("bot_run_1", new Event.ItemDone({ item: call, runId: "bot_run_1", to: [], policy: null })),
      reported("bot_run_1", new Event.InferenceCompleted({ runId: "bot_run_1", inferenceId: "i1", usage: Event.Usage.zero, incompleteReason: null })),
      reported("bot_run_1", new Event.ItemDone({ item: output("c1"), runId: "bot_run_1", to: [], policy: null }))
    )
    assert.deepStrictEqual(took.commands, ["call c1 (new)", "publish InputSteered m3", "infer 2"])
    assert.isFalse(HashSet.has(took.state.deferred, "m3"))
    const [, ended] = Controller.decide(settings, steered.state, Controller.Input.RunEnded({ runId: "bot_run_1" }))
    assert.deepStrictEqual(spell(ended), [
      "publish InputQueued m3",
      "publish InputDequeued m3",
      "publish InputDequeued m2",
      "publish RunStarted",
      "start bot_run_3",
      "infer 1"
    ])
  })

  it("a run's steps move on from the events they publish: calls at most `concurrency` at once, then the next inference", () => {
    const started = play(trigger(1))
    const turn = play2(
      started.state,
      inferenceStarted(1),
      done(functionCall("a")),
      done(functionCall("b")),
      done(functionCall("c")),
      inferenceCompleted(1)
    )
    // Two at once (concurrency 2); the third when one has its output.
    assert.deepStrictEqual(turn.commands, ["call a (new)", "call b (new)"])
    const outputs = play2(turn.state, done(output("b")), done(output("c")), done(output("a")))
    assert.deepStrictEqual(outputs.commands, ["call c (new)", "infer 2"])
    // An output for a call that is not open changes nothing.
    assert.deepStrictEqual(play2(turn.state, done(output("x"))).commands, [])
  })

  it("a run ends completed without calls, at the turn limit, or failed by its inference or a hook", () => {
    const started = play(trigger(1)).state
    assert.deepStrictEqual(play2(started, inferenceStarted(1), inferenceCompleted(1)).commands, ["end completed"])
    const failed = play2(
      started,
      inferenceStarted(1),
      reported("bot_run_1", new Event.InferenceFailed({ runId: "bot_run_1", inferenceId: "i1", error: "boom", reason: "server" }))
    )
    assert.deepStrictEqual(failed.commands, ["end failed: boom"])
    // A hook failing while the inference is open (afterInference): the run fails when the inference ends.
    const hook = new Event.HookFailed({ participant: "bot", runId: "bot_run_1", hook: "afterInference", error: "hook afterInference failed: no" })
    const hooked = play2(started, inferenceStarted(1), done(functionCall("a")), reported("bot_run_1", hook), inferenceCompleted(1))
    assert.deepStrictEqual(hooked.commands, ["end failed: hook afterInference failed: no"])
    // A hook failing during the calls ends the run at once.
    const calling = play2(started, inferenceStarted(1), done(functionCall("a")), inferenceCompleted(1)).state
    assert.deepStrictEqual(play2(calling, reported("bot_run_1", hook)).commands, ["end failed: hook afterInference failed: no"])
    // maxTurns 3: the third turn's outputs end the run.
    let state = started
    for (const turn of [1, 2, 3]) {
      state = play2(state, inferenceStarted(turn), done(functionCall(`c${turn}`)), inferenceCompleted(turn)).state
      const after = play2(state, done(output(`c${turn}`)))
      assert.deepStrictEqual(after.commands, turn < 3 ? [`infer ${turn + 1}`] : ["end turn_limit"])
      state = after.state
    }
    // Once ending, the run's late events change nothing; its RunEnded frees the agent.
    assert.deepStrictEqual(play2(state, inferenceCompleted(3)).commands, [])
    assert.strictEqual(play2(state, Controller.Input.RunEnded({ runId: "bot_run_1" })).state.running, null)
  })

  it("a run resumed after a restart finishes its calls at their stage, then infers again", () => {
    const resumed = play2(
      Controller.initial,
      Controller.Input.Resumed({ runId: "bot_run_1", turn: 1, calls: [[functionCall("a"), "awaiting_approval"], [functionCall("b"), "requested"]] })
    )
    assert.deepStrictEqual(resumed.commands, ["call a (awaiting_approval)", "call b (requested)"])
    assert.strictEqual(resumed.state.running, "bot_run_1")
    assert.deepStrictEqual(play2(resumed.state, done(output("a")), done(output("b"))).commands, ["infer 2"])
  })

  it("a dropped message is refused visibly and changes nothing else", () => {
    const { commands, state } = play(trigger(1), trigger(2, "drop"))
    assert.deepStrictEqual(commands.slice(3), ["publish InputDropped m2"])
    assert.strictEqual(Chunk.size(state.queue), 0)
  })

  it("interrupts: ignored when idle or for another run, else a stop", () => {
    assert.deepStrictEqual(play(Controller.Input.Interrupt({ runId: null, by: "alice" })).commands, ["publish InterruptIgnored"])
    const other = play(trigger(1), Controller.Input.Interrupt({ runId: "bot_run_0", by: "alice" }))
    assert.deepStrictEqual(other.commands.slice(3), ["publish InterruptIgnored"])
    assert.strictEqual(other.state.running, "bot_run_1")
    const stopped = play(trigger(1), Controller.Input.Interrupt({ runId: "bot_run_1", by: "alice" }))
    assert.deepStrictEqual(stopped.commands.slice(3), ["stop (interrupted by alice)"])
    assert.strictEqual(stopped.state.running, null)
  })

  it("runs triggered by agents in a row stop at the cap; a human message resets the count", () => {
    const end = (sequence: number) => Controller.Input.RunEnded({ runId: `bot_run_${sequence}` })
    const capped = play(trigger(1, "queue", true), end(1), trigger(2, "queue", true), end(2), trigger(3, "queue", true))
    assert.deepStrictEqual(capped.commands.slice(6), ["publish RunEnded"])
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
