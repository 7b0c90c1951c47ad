/**
 * A run's function calls: each call is a fiber in the agent's `FiberMap`, keyed by run and call
 * id (providers reuse call ids across responses); the controller starts them (at most
 * `concurrency` at once) and learns their end from their published outputs. A call
 * goes requested → `beforeFunctionCall` (may veto) → approval if its policy asks → started (only
 * once the start is durable) → the tool → `afterFunctionCall` → its output, published as it
 * finishes. A failed hook is published; the controller then ends the run, interrupting the others.
 *
 * @internal
 */
import { Cause, Effect, Either, FiberMap } from "effect"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import * as FunctionCallRunner from "../../FunctionCallRunner.js"
import * as Tool from "../../Tool.js"
import { callKey } from "./approvals.js"
import * as Run from "./run.js"
import * as Runtime from "./runtime.js"

type Outcome = { readonly call: ContextItem.FunctionCall; readonly result: Tool.Result }

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

const askHuman = (rt: Runtime.Runtime, run: Run.RunState, call: ContextItem.FunctionCall) =>
  Effect.gen(function*() {
    let question: string
    try {
      const parsed = JSON.parse(call.arguments) as unknown
      if (typeof parsed !== "object" || parsed === null || typeof (parsed as { question?: unknown }).question !== "string") {
        throw new Error("expected {\"question\": string}")
      }
      question = (parsed as { question: string }).question
    } catch (error) {
      return {
        output: `Invalid arguments for tool "${Runtime.askHumanTool}": ${Runtime.describe(error)}`,
        isError: true
      } satisfies Tool.Result
    }
    const answer = yield* Runtime.approvals(rt).clarify(run.runId, call.callId, question)
    return { output: answer, isError: false } satisfies Tool.Result
  })

const error = (call: ContextItem.FunctionCall, output: string): Outcome => ({ call, result: { output, isError: true } })

/** One call, from the stage it has reached (`new` for a call just produced by the model). */
const callOnce = (
  rt: Runtime.Runtime,
  run: Run.RunState,
  original: ContextItem.FunctionCall,
  definitions: ReadonlyArray<Tool.Definition>,
  stage: Run.Stage
) =>
  Effect.gen(function*() {
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
    const needsApproval = stage === "awaiting_approval" ||
      (stage !== "approved" && call.name !== Runtime.askHumanTool &&
        Tool.needsApproval(Runtime.approvalPolicy(rt, definition, call.name), call.arguments))
    if (needsApproval) {
      yield* Runtime.setState(rt, run, "awaiting_approval")
      const decision = yield* Runtime.approvals(rt).await(run.runId, call, stage !== "awaiting_approval")
      if (!decision.approved) {
        yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: `rejected: ${decision.reason}` }))
        return error(call, `The call was rejected by ${decision.by}: ${decision.reason}. Do not retry it unchanged.`)
      }
      yield* Runtime.setState(rt, run, "function_calls")
    }
    yield* publish(new Event.FunctionCallStarted({ callId: call.callId, name: call.name }))
    // At most once: the side effect starts only after its start is durable.
    const durable = yield* Effect.either(rt.env.flush)
    if (Either.isLeft(durable)) {
      const message = `The call was not run: the journal could not record its start (${durable.left.message}), ` +
        "so running it could not be guaranteed to happen only once."
      yield* publish(new Event.FunctionCallFailed({ callId: call.callId, error: message }))
      return error(call, message)
    }
    const outcome = call.name === Runtime.askHumanTool && rt.options.askHuman === true
      ? yield* Effect.either(askHuman(rt, run, call))
      : yield* Effect.either(runTool(rt, {
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
    let result: Tool.Result
    if (outcome._tag === "Left") {
      yield* publish(new Event.FunctionCallFailed({ callId: call.callId, error: outcome.left.message }))
      result = { output: outcome.left.message, isError: true }
    } else {
      result = outcome.right
    }
    result = yield* rt.hooks.afterFunctionCall(call, result)
    if (outcome._tag === "Right") {
      yield* publish(new Event.FunctionCallCompleted({ callId: call.callId, isError: result.isError }))
    }
    return { call, result }
  })

/** Publishes a call's output as it finishes (it enters the context through the fold, in call order). */
const publishOutput = (rt: Runtime.Runtime, run: Run.RunState, { call, result }: Outcome) =>
  Effect.suspend(() => {
    const item = Run.output(rt.me, call, result)
    run.answered.add(call.callId)
    run.outputs.set(call.callId, item)
    return Runtime.emitAll(rt, Run.publishOutput(run.runId, item))
  })

/**
 * Starts a call in the agent's `FiberMap` under its run and call id. It reports back only by
 * publishing: its output, or `HookFailed` when a hook fails (the run then fails).
 */
export const start = (
  rt: Runtime.Runtime,
  run: Run.RunState,
  call: ContextItem.FunctionCall,
  stage: Run.Stage,
  died: (detail: string) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    yield* Runtime.setState(rt, run, "function_calls")
    const step = Effect.flatMap(Runtime.toolDefinitions(rt), (definitions) => callOnce(rt, run, call, definitions, stage)).pipe(
      Effect.flatMap((outcome) => publishOutput(rt, run, outcome)),
      Effect.catchAll((error) =>
        Runtime.publish(rt, new Event.HookFailed({ participant: rt.me, runId: run.runId, hook: error.hook, error: error.message }))
      ),
      Effect.catchAllCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : died(Cause.pretty(cause)))
    )
    const { calls } = yield* Runtime.fibers(rt)
    yield* FiberMap.run(calls, callKey(run.runId, call.callId), Effect.asVoid(step))
  })

/** Interrupts the run's calls still running (and waits for them). */
export const interruptAll = (rt: Runtime.Runtime, run: Run.RunState) =>
  Effect.suspend(() => {
    const calls = rt.fibers?.calls
    return calls === undefined
      ? Effect.void
      : Effect.forEach(run.calls.keys(), (callId) => FiberMap.remove(calls, callKey(run.runId, callId)), { discard: true })
  })
