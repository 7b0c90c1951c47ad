/**
 * A run's function calls: each call is a fiber in the agent's `FiberMap`, keyed by run and call
 * id (providers reuse call ids across responses); the controller starts them (at most
 * `concurrency` at once) and learns their end from their published outputs. A call
 * goes requested → `beforeFunctionCall` (may veto) → approval if its policy asks → started (only
 * once the start is durable) → the tool → `afterFunctionCall` → its output, published as it
 * finishes. A failed hook is published; the controller then ends the run, interrupting the others.
 *
 * Approval is the controller's decision (`approvals.ts`): a call that needs it reports
 * `ApprovalNeeded` and its fiber ends; the call's slot then holds the request being published,
 * the approval's timer, or the denial, until an approved call starts again past its approval.
 *
 * @internal
 */
import { Cause, type Duration, Effect, Either, FiberMap, Ref } from "effect"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import * as FunctionCallRunner from "../../FunctionCallRunner.js"
import * as Tool from "../../Tool.js"
import * as Approvals from "./approvals.js"
import * as Controller from "./controller.js"
import type * as State from "./state.js"
import * as Run from "./run.js"
import * as Runtime from "./runtime.js"

type Outcome = { readonly call: ContextItem.FunctionCall; readonly result: Tool.Result }

/** How a call's fiber ends: with its output, or asking for approval or a person's answer (the controller decides). */
type Ended =
  | Outcome
  | { readonly needsApproval: ContextItem.FunctionCall }
  | { readonly question: string; readonly asking: ContextItem.FunctionCall }

/** Reports to the controller from a step (from a fiber of its own: deciding may replace the step). */
export type Report = (input: State.Input) => Effect.Effect<void>

// A runner that dies (a bug in a custom one) gives the model an error output, not a failed run.
const runTool = (rt: Runtime.Runtime, request: FunctionCallRunner.Request) =>
  Effect.suspend(() => rt.functions.run(request)).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.fail(
        new FunctionCallRunner.FunctionCallError({
          reason: "crashed",
          name: request.call.name,
          detail: `the tool crashed: ${Runtime.describe(defect)}`,
          cause: defect
        })
      )
    )
  )

/** The question of an `ask_human` call, or the error output its arguments get. */
const questionOf = (call: ContextItem.FunctionCall): Either.Either<string, Tool.Result> => {
  try {
    const parsed = JSON.parse(call.arguments) as unknown
    if (typeof parsed !== "object" || parsed === null || typeof (parsed as { question?: unknown }).question !== "string") {
      throw new Error("expected {\"question\": string}")
    }
    return Either.right((parsed as { question: string }).question)
  } catch (error) {
    return Either.left({ output: `Invalid arguments for tool "${Runtime.askHumanTool}": ${Runtime.describe(error)}`, isError: true })
  }
}

/** A call's tool has answered (or failed): `afterFunctionCall`, then its completion, as it will be output. */
const finish = (rt: Runtime.Runtime, call: ContextItem.FunctionCall, outcome: Either.Either<Tool.Result, FunctionCallRunner.FunctionCallError>) =>
  Effect.gen(function*() {
    let result: Tool.Result
    if (outcome._tag === "Left") {
      yield* Runtime.publish(rt, new Event.FunctionCallFailed({ callId: call.callId, error: outcome.left.message }))
      result = { output: outcome.left.message, isError: true }
    } else {
      result = outcome.right
    }
    result = yield* rt.hooks.afterFunctionCall(call, result)
    if (outcome._tag === "Right") {
      yield* Runtime.publish(rt, new Event.FunctionCallCompleted({ callId: call.callId, isError: result.isError }))
    }
    return { call, result } satisfies Outcome
  })

const error = (call: ContextItem.FunctionCall, output: string): Outcome => ({ call, result: { output, isError: true } })

/** One call, from the stage it has reached (`new` for a call just produced by the model). */
const callOnce = (
  rt: Runtime.Runtime,
  run: Run.Current,
  original: ContextItem.FunctionCall,
  definitions: ReadonlyArray<Tool.Definition>,
  stage: Run.Stage
) =>
  Effect.gen(function*(): Effect.fn.Return<Ended, Runtime.HookError> {
    const publish = (payload: Event.Payload) => Runtime.publish(rt, payload)
    if (stage === "new") {
      yield* publish(new Event.FunctionCallRequested({
        runId: run.runId,
        callId: original.callId,
        name: original.name,
        arguments: original.arguments
      }))
    }
    let call = original
    if (stage === "new" || stage === "requested") {
      const decision = yield* rt.hooks.beforeFunctionCall(call)
      if ("veto" in decision) {
        yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: `vetoed: ${decision.veto}` }))
        return error(call, decision.veto)
      }
      call = decision.call
    }
    const definition = definitions.find((definition) => definition.name === call.name)
    const needsApproval = stage !== "approved" && call.name !== Runtime.askHumanTool &&
      Tool.needsApproval(Runtime.approvalPolicy(rt, definition, call.name), call.arguments)
    // The controller asks, and decides on the answer.
    if (needsApproval) return { needsApproval: call }
    yield* publish(new Event.FunctionCallStarted({ callId: call.callId, name: call.name }))
    // At most once: the side effect starts only after its start is durable.
    const durable = yield* Effect.either(rt.env.flush)
    if (Either.isLeft(durable)) {
      const message = `The call was not run: the journal could not record its start (${durable.left.message}), ` +
        "so running it could not be guaranteed to happen only once."
      yield* publish(new Event.FunctionCallFailed({ callId: call.callId, error: message }))
      return error(call, message)
    }
    if (call.name === Runtime.askHumanTool && rt.options.askHuman === true) {
      // The controller asks the question, and finishes the call with its answer.
      const question = questionOf(call)
      return Either.isRight(question) ? { question: question.right, asking: call } : yield* finish(rt, call, Either.right(question.left))
    }
    const outcome = yield* Effect.either(runTool(rt, {
      call,
      progress: (progress) =>
        Effect.asVoid(publish(new Event.FunctionCallProgress({
          callId: call.callId,
          progress: progress.progress,
          total: progress.total ?? null,
          message: progress.message ?? null
        })))
    })).pipe(
      Effect.withSpan(`execute_tool ${call.name}`, {
        attributes: {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": call.name,
          "gen_ai.tool.call.id": call.callId,
          "gen_ai.agent.name": rt.me
        }
      })
    )
    return yield* finish(rt, call, outcome)
  })

/** Publishes a call's output as it finishes (it enters the context through the fold, in call order). */
const publishOutput = (rt: Runtime.Runtime, run: Run.Current, { call, result }: Outcome) =>
  Effect.suspend(() => {
    const item = Run.output(rt.me, call, result)
    return Effect.zipRight(Ref.update(run.state, Run.withOutput(item)), Runtime.emitAll(rt, Run.publishOutput(run.runId, item)))
  })

/** Runs `step` in the call's slot of the agent's `FiberMap` (replacing what the slot held). */
const inSlot = (rt: Runtime.Runtime, run: Run.Current, callId: string, step: Effect.Effect<unknown>, report: Report) =>
  Effect.flatMap(Runtime.fibers(rt), ({ calls }) =>
    FiberMap.run(
      calls,
      Approvals.callKey(run.runId, callId),
      step.pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : report(Controller.Input.Died({ runId: run.runId, detail: Cause.pretty(cause) }))
        ),
        Effect.asVoid
      )
    ))

/**
 * Starts a call in the agent's `FiberMap` under its run and call id. It reports back by publishing:
 * its output, or `HookFailed` when a hook fails (the run then fails); a call that needs approval
 * reports `ApprovalNeeded`. At `awaiting_approval` (a call resumed after a restart) the call only
 * waits for its answer: the controller holds it (`approvals.ts`).
 */
export const start = (rt: Runtime.Runtime, run: Run.Current, call: ContextItem.FunctionCall, stage: Run.Stage, report: Report) =>
  Effect.gen(function*() {
    yield* Runtime.setState(rt, run, "function_calls")
    if (stage === "awaiting_approval") return yield* Runtime.setState(rt, run, "awaiting_approval")
    const step = Effect.flatMap(Runtime.toolDefinitions(rt), (definitions) => callOnce(rt, run, call, definitions, stage)).pipe(
      Effect.flatMap((ended) =>
        "needsApproval" in ended
          ? report(Approvals.Input.ApprovalNeeded({ runId: run.runId, call: ended.needsApproval }))
          : "question" in ended
          ? report(Approvals.Input.QuestionAsked({ runId: run.runId, call: ended.asking, question: ended.question }))
          : publishOutput(rt, run, ended)
      ),
      Effect.catchAll((error) => hookFailed(rt, run, error))
    )
    yield* inSlot(rt, run, call.callId, step, report)
  })

const hookFailed = (rt: Runtime.Runtime, run: Run.Current, error: Runtime.HookError) =>
  Runtime.publish(rt, new Event.HookFailed({ participant: rt.me, runId: run.runId, hook: error.hook, error: error.message }))

/** Asks a person a call's question (`ask_human`): published from the call's slot. */
export const askQuestion = (rt: Runtime.Runtime, run: Run.Current, callId: string, question: string, report: Report) =>
  inSlot(rt, run, callId, Runtime.publish(rt, new Event.ClarificationRequested({ callId, question })), report)

/** Finishes an `ask_human` call with the person's answer, from its slot. */
export const answerQuestion = (rt: Runtime.Runtime, run: Run.Current, call: ContextItem.FunctionCall, answer: string, report: Report) =>
  inSlot(
    rt,
    run,
    call.callId,
    finish(rt, call, Either.right({ output: answer, isError: false })).pipe(
      Effect.flatMap((outcome) => publishOutput(rt, run, outcome)),
      Effect.catchAll((error) => hookFailed(rt, run, error))
    ),
    report
  )

/** Asks for a call's approval: the request, published from the call's slot (a stop interrupts it). */
export const ask = (rt: Runtime.Runtime, run: Run.Current, call: ContextItem.FunctionCall, report: Report) =>
  inSlot(
    rt,
    run,
    call.callId,
    Effect.zipRight(
      Runtime.setState(rt, run, "awaiting_approval"),
      Runtime.publish(rt, new Event.ApprovalRequested({ runId: run.runId, callId: call.callId, name: call.name, arguments: call.arguments }))
    ),
    report
  )

/** A requested call's timeout: a sleep on `Clock` in the call's slot, so an answer or a stop ends it. */
export const timer = (rt: Runtime.Runtime, run: Run.Current, callId: string, after: Duration.Duration, report: Report) =>
  inSlot(rt, run, callId, Effect.zipRight(Effect.sleep(after), report(Approvals.Input.ApprovalTimedOut({ runId: run.runId, callId }))), report)

/** Denies a call (rejected, or timed out): published from its slot, the model told why. */
export const deny = (rt: Runtime.Runtime, run: Run.Current, call: ContextItem.FunctionCall, by: string, reason: string, report: Report) =>
  inSlot(
    rt,
    run,
    call.callId,
    Effect.gen(function*() {
      yield* Runtime.publish(rt, new Event.FunctionCallRejected({ callId: call.callId, by, reason }))
      yield* Runtime.publish(rt, new Event.FunctionCallCancelled({ callId: call.callId, reason: `rejected: ${reason}` }))
      yield* publishOutput(rt, run, error(call, `The call was rejected by ${by}: ${reason}. Do not retry it unchanged.`))
    }),
    report
  )

/** Interrupts the run's calls still running (and waits for them). */
export const interruptAll = (rt: Runtime.Runtime, run: Run.Current) =>
  Effect.suspend(() => {
    const calls = rt.fibers?.calls
    return calls === undefined ? Effect.void : Effect.flatMap(Ref.get(run.state), (state) =>
      Effect.forEach(state.calls.keys(), (callId) => FiberMap.remove(calls, Approvals.callKey(run.runId, callId)), { discard: true }))
  })
