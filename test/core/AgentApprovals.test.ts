/**
 * Approvals are the agent's decisions (`internal/agent/approvals.ts`): what is pending is data in the agent's
 * state, asking, the timeout and the answer's effect are commands. The decisions are read without running an
 * agent; the timeout and a restart between request and answer are checked end to end on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Ref, TestClock } from "effect"
import type { Commands } from "@chorus/core"
import { ContextItem, Environment, Event, InputStream, Journal, ScriptedModel, Toolkit } from "@chorus/core"
import * as Approvals from "../../packages/core/src/internal/agent/approvals.js"
import * as Controller from "../../packages/core/src/internal/agent/controller.js"
import * as History from "../../packages/core/src/internal/agent/history.js"
import * as State from "../../packages/core/src/internal/agent/state.js"
import { deployTool, events, joinAgent, joinHuman, payloads, runEnded } from "../support/agents.js"

const settings: Controller.Settings = {
  me: "ops",
  exchangeCap: 5,
  maxTurns: 5,
  concurrency: 4,
  approvalTimeout: Duration.minutes(1)
}

const runId = "ops_run_1"

const call = (callId: string, target = "prod") =>
  new ContextItem.FunctionCall({
    id: `fc_${callId}`,
    author: "ops",
    status: "completed",
    callId,
    name: "deploy",
    arguments: JSON.stringify({ target })
  })

/** The journal's record of one of the agent's calls (`Commands`), as the loop gathers it. */
const known = (callId: string, answeredBy: string | null = null): Commands.Command => ({
  callId,
  name: "deploy",
  arguments: "{}",
  runId,
  agent: "ops",
  status: answeredBy === null ? "awaiting_approval" : "approved",
  answeredBy,
  reason: null,
  progress: null,
  total: null,
  hasOutput: false
})

const answer = (callId: string, options: { readonly approved?: boolean; readonly allowed?: boolean; readonly known?: Commands.Command | null } = {}) =>
  Approvals.Input.Answered({
    callId,
    by: "alice",
    approved: options.approved ?? true,
    reason: null,
    allowed: options.allowed ?? true,
    refusesUnknown: true,
    known: options.known === undefined ? known(callId) : options.known
  })

const reported = (payload: Event.Payload) => Controller.Input.Reported({ runId, payload })

const requested = (callId: string) =>
  reported(new Event.ApprovalRequested({ runId, callId, name: "deploy", arguments: call(callId).arguments }))

/** Commands as short strings: what a reader checks. */
const spell = (commands: ReadonlyArray<State.Command>) =>
  commands.map((command): string => {
    switch (command._tag) {
      case "Publish": {
        const payload = command.payload
        if (payload._tag === "ApprovalAnswerRefused") return `refuse ${payload.callId} (${payload.reason})`
        if (payload._tag === "FunctionCallApproved") return `approved ${payload.callId} by ${payload.by}`
        return `publish ${payload._tag}`
      }
      case "StartCall":
        return `call ${command.call.callId} (${command.stage})`
      case "AskApproval":
        return `ask ${command.call.callId}`
      case "ApprovalTimer":
        return `timer ${command.callId} ${Duration.format(command.after)}`
      case "DenyCall":
        return `deny ${command.call.callId} by ${command.by}: ${command.reason}`
      case "AskQuestion":
        return `question ${command.callId}: ${command.question}`
      case "AnswerQuestion":
        return `answer ${command.call.callId}: ${command.answer}`
      default:
        return command._tag
    }
  })

/** The approvals in an agent's state. */
const approvalsOf = (state: State.State) =>
  [...state.approvals].map(([, entry]) => entry).filter((entry): entry is Approvals.Approval => entry._tag === "Approval")

/** Plays inputs from a state, collecting every command. */
const play = (from: State.State, ...inputs: ReadonlyArray<State.Input>) => {
  let state = from
  const commands: Array<string> = []
  for (const input of inputs) {
    const [next, issued] = State.decide(settings, state, input)
    state = next
    commands.push(...spell(issued))
  }
  return { state, commands }
}

/** An agent whose run `ops_run_1` is at its calls, `d1` started (and `d2` waiting for a free slot, if given). */
const atCalls = (...callIds: ReadonlyArray<string>) => {
  const initial = State.initial(History.reducer("ops", true).initial)
  return play(
    initial,
    Controller.Input.Resumed({ runId, turn: 1, calls: callIds.map((callId) => [call(callId), "requested"] as const) })
  ).state
}

describe("Agent approvals (pure decisions)", () => {
  it("a call that needs approval is asked; once its request is folded it waits, and its timer is a command", () => {
    const { commands, state } = play(atCalls("d1"), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1"))
    assert.deepStrictEqual(commands, ["ask d1", "timer d1 1m"])
    const pending = approvalsOf(state)
    assert.deepStrictEqual(pending.map((approval) => [approval.callId, approval.requested, approval.decision]), [["d1", true, null]])
  })

  it("the timer firing denies the call, once; a later answer is refused as already answered", () => {
    const asked = play(atCalls("d1"), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1")).state
    const fired = play(asked, Approvals.Input.ApprovalTimedOut({ runId, callId: "d1" }))
    assert.deepStrictEqual(fired.commands, ["deny d1 by timeout: the approval request timed out"])
    assert.deepStrictEqual(
      play(fired.state, Approvals.Input.ApprovalTimedOut({ runId, callId: "d1" }), answer("d1")).commands,
      ["refuse d1 (already_answered)"]
    )
  })

  it("an answer before the timer applies, and the timer firing after it changes nothing", () => {
    const asked = play(atCalls("d1"), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1")).state
    const { commands } = play(asked, answer("d1"), Approvals.Input.ApprovalTimedOut({ runId, callId: "d1" }))
    assert.deepStrictEqual(commands, ["approved d1 by alice", "call d1 (approved)"])
  })

  it("an answer that arrives before the request is kept in the state and applied when the request is folded", () => {
    const early = play(atCalls("d1"), answer("d1"))
    assert.deepStrictEqual(early.commands, [])
    const kept = approvalsOf(early.state)
    assert.deepStrictEqual(kept.map((approval) => [approval.callId, approval.requested, approval.decision?.by]), [["d1", false, "alice"]])
    // A second early answer is refused; the first applies once the call is asked and its request folded.
    const after = play(early.state, answer("d1", { approved: false }), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1"))
    assert.deepStrictEqual(after.commands, ["refuse d1 (already_answered)", "ask d1", "approved d1 by alice", "call d1 (approved)"])
  })

  it("an early rejection denies the call when it is asked, without a timer", () => {
    const { commands } = play(
      atCalls("d1"),
      answer("d1", { approved: false }),
      Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }),
      requested("d1")
    )
    assert.deepStrictEqual(commands, ["ask d1", "deny d1 by alice: rejected"])
  })

  it("answers with no effect are refused visibly: not allowed, a call of no run, a call nobody asked", () => {
    const asked = play(atCalls("d1"), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1")).state
    assert.deepStrictEqual(play(asked, answer("d1", { allowed: false })).commands, ["refuse d1 (not_allowed)"])
    assert.deepStrictEqual(play(asked, answer("gone")).commands, ["refuse gone (call_ended)"])
    assert.deepStrictEqual(play(asked, answer("nobody", { known: null })).commands, ["refuse nobody (unknown_call)"])
    // Another agent's call is that agent's to judge.
    assert.deepStrictEqual(play(asked, answer("theirs", { known: { ...known("theirs"), agent: "other" } })).commands, [])
  })

  it("after a restart the fold's pending approval is pending again: a call resumed at awaiting_approval waits, with its timer", () => {
    const initial = State.initial(History.reducer("ops", true).initial)
    const resumed = play(initial, Controller.Input.Resumed({ runId, turn: 1, calls: [[call("d1"), "awaiting_approval"]] }))
    assert.deepStrictEqual(resumed.commands, ["call d1 (awaiting_approval)", "timer d1 1m"])
    const { commands } = play(resumed.state, answer("d1"), answer("d1"))
    assert.deepStrictEqual(commands, ["approved d1 by alice", "call d1 (approved)", "refuse d1 (already_answered)"])
    // An approval the journal already holds (its FunctionCallApproved folded) is not applied twice.
    assert.deepStrictEqual(play(resumed.state, answer("d1", { known: known("d1", "bob") })).commands, ["refuse d1 (already_answered)"])
  })

  it("an answer kept for a resumed call still waiting for a slot applies when the call starts", () => {
    const initial = State.initial(History.reducer("ops", true).initial)
    const one = { ...settings, concurrency: 1 }
    let [state] = State.decide(one, initial, Controller.Input.Resumed({ runId, turn: 1, calls: [[call("a"), "approved"], [call("b"), "awaiting_approval"]] }))
    const [kept, none] = State.decide(one, state, answer("b"))
    assert.deepStrictEqual(spell(none), [])
    state = kept
    const output = new ContextItem.FunctionCallOutput({ id: "a_output", author: "ops", status: "completed", callId: "a", output: "ok", isError: false })
    const [, started] = State.decide(one, state, reported(new Event.ItemDone({ item: output, runId, to: [], policy: null })))
    assert.deepStrictEqual(spell(started), ["call b (awaiting_approval)", "approved b by alice", "call b (approved)"])
  })

  it("a clarification question is asked as a command and its first answer finishes the call; others change nothing", () => {
    const asked = play(atCalls("q1"), Approvals.Input.QuestionAsked({ runId, call: call("q1"), question: "Which region?" }))
    assert.deepStrictEqual(asked.commands, ["question q1: Which region?"])
    const answered = play(
      asked.state,
      Approvals.Input.Clarified({ callId: "q1", answer: "eu-west" }),
      Approvals.Input.Clarified({ callId: "q1", answer: "us-east" }),
      Approvals.Input.Clarified({ callId: "nobody", answer: "?" })
    )
    assert.deepStrictEqual(answered.commands, ["answer q1: eu-west"])
    assert.strictEqual([...answered.state.approvals].length, 0)
  })

  it("a run that ends leaves no approval behind", () => {
    const asked = play(atCalls("d1"), Approvals.Input.ApprovalNeeded({ runId, call: call("d1") }), requested("d1")).state
    const stopped = play(asked, Controller.Input.Interrupt({ runId: null, by: "alice" }))
    assert.strictEqual([...stopped.state.approvals].length, 0)
    assert.deepStrictEqual(play(stopped.state, Approvals.Input.ApprovalTimedOut({ runId, callId: "d1" })).commands, [])
  })
})

const approve = (callId: string) => new InputStream.Approval({ callId, approved: true, reason: null })

/** One journal shared by two environment lifetimes: the second resumes where the first stopped. */
const lifetimes = Effect.gen(function*() {
  const journal = yield* Journal.makeMemory
  const environment = Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)
  return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, environment)
})

describe("Agent approvals (end to end, TestClock)", () => {
  it.effect("the approval timeout is time on the Clock: not a moment before, then rejected once; a late answer is refused", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const model = yield* joinAgent(
        { id: "ops", approval: { timeout: "1 minute" } },
        { turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })], [ScriptedModel.text("timed out")]] },
        Toolkit.make(deployTool(runs)).layer
      )
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("deploy"))
      yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(payloads(yield* events, "FunctionCallRejected").length, 0)
      yield* TestClock.adjust("1 second")
      const ended = yield* runEnded("ops")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
      const [rejected] = payloads(yield* events, "FunctionCallRejected")
      assert.strictEqual(rejected?.by, "timeout")
      yield* alice.offer(approve("d1"))
      const refused = yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.strictEqual((refused.payload as Event.ApprovalAnswerRefused).reason, "already_answered")
      assert.deepStrictEqual(yield* Ref.get(runs), [])
      const output = (yield* model.requests)[1]!.items.find((item) => item._tag === "FunctionCallOutput")!
      assert.include(ContextItem.text(output), "timed out")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a restart between request and answer: the approval is pending again by the fold, its timer restarts, the answer applies once", () =>
    Effect.gen(function*() {
      const inEnvironment = yield* lifetimes
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = Toolkit.make(deployTool(runs))
      const options = { id: "ops", approval: { timeout: "1 minute" } } as const
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinAgent(options, { turns: [[ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]] }, toolkit.layer)
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("deploy"))
        yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
        yield* TestClock.adjust("50 seconds")
      }))
      yield* inEnvironment(Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* joinAgent(options, { turns: [[ScriptedModel.text("deployed")]] }, toolkit.layer)
        const alice = yield* joinHuman("alice")
        // The timer restarted with the agent: 50 seconds more is still within its minute.
        yield* TestClock.adjust("50 seconds")
        assert.strictEqual(payloads(yield* events, "FunctionCallRejected").length, 0)
        yield* alice.offer(approve("d1"))
        const ended = yield* runEnded("ops")
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        // Its timer went with the answer: nothing happens when the minute is over.
        yield* TestClock.adjust("2 minutes")
        yield* alice.offer(approve("d1"))
        yield* env.waitFor((event) => event.payload._tag === "ApprovalAnswerRefused")
        const all = yield* events
        assert.strictEqual(payloads(all, "FunctionCallRejected").length, 0)
        assert.strictEqual(payloads(all, "ApprovalRequested").length, 1)
        assert.strictEqual(payloads(all, "FunctionCallApproved").length, 1)
      }))
      assert.deepStrictEqual(yield* Ref.get(runs), ["prod"])
    }))
})
