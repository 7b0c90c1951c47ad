/**
 * The agent's interpreter: runs the controller's commands (publish, start a run, stop the run)
 * and a run's steps. A run is a loop over pure decisions — `Run.afterInference`,
 * `Run.afterCalls` say what follows each step, `Run.end` / `Run.stop` how it closes — in the
 * agent's `FiberHandle`; its calls run in the agent's `FiberMap` (`calls.ts`). Everything a run
 * does is published, and the agent learns it by folding what it receives.
 *
 * @internal
 */
import { Cause, Effect, Exit, Fiber, FiberHandle, Option, Ref } from "effect"
import * as Event from "../../Event.js"
import * as Assemble from "../inference/assemble.js"
import * as Calls from "./calls.js"
import * as Controller from "./controller.js"
import * as Inference from "./inference.js"
import type * as Resume from "./resume.js"
import * as Run from "./run.js"
import * as Runtime from "./runtime.js"

/** Steered input enters the context before the run's next model call. */
const takeSteered = (rt: Runtime.Runtime, run: Run.RunState) =>
  Effect.flatMap(Ref.modify(rt.controller, Controller.takeSteered), (steered) =>
    Effect.forEach(steered, (next) =>
      Runtime.publish(rt, new Event.InputSteered({ participant: rt.me, itemId: next.item.id, runId: run.runId })), {
      discard: true
    }))

/** A run's steps, from `first`, until a decision ends it. */
const steps = (rt: Runtime.Runtime, run: Run.RunState, first: Run.Step) =>
  Effect.gen(function*() {
    let step = first
    while (step._tag !== "End") {
      if (step._tag === "Infer") {
        if (step.turn > 1) yield* takeSteered(rt, run)
        step = Run.afterInference(step.turn, yield* Inference.infer(rt, run, step.turn))
      } else {
        yield* Calls.runAll(rt, run, step.calls)
        step = Run.afterCalls(rt.maxTurns, step.turn)
      }
    }
    return step
  }).pipe(
    Effect.withSpan(`invoke_agent ${rt.me}`, {
      attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": rt.me, "chorus.run.id": run.runId }
    })
  )

/** The bookkeeping of a closing: cut calls join the run's calls, cancelled outputs answer them. */
const applyClosing = (run: Run.RunState, closing: Run.Closing) => {
  for (const call of closing.cutCalls) run.calls.set(call.callId, call)
  for (const item of closing.outputs) {
    run.answered.add(item.callId)
    run.outputs.set(item.callId, item)
  }
}

/** Publishes a closing decision (`Run.end` / `Run.stop`): the run's waits are gone before its end. */
const close = (rt: Runtime.Runtime, run: Run.RunState, decision: Run.Stopping) =>
  Effect.gen(function*() {
    if (decision.closing !== null) {
      applyClosing(run, decision.closing)
      run.state = "idle"
      yield* rt.approvals.dropRun(run.runId)
    }
    yield* Runtime.emitAll(rt, decision.commands)
  })

/** A run's own end (finished or failed); an interruption is a stop, decided by the controller. */
const end = (rt: Runtime.Runtime, run: Run.RunState, exit: Exit.Exit<Extract<Run.Step, { _tag: "End" }>, unknown>) =>
  Effect.suspend(() => {
    if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return Effect.void
    run.ended = true
    let ending: Run.Ending
    if (Exit.isSuccess(exit)) {
      ending = { _tag: "Finished", outcome: exit.value.outcome, detail: exit.value.detail }
    } else {
      const failure = Cause.failureOption(exit.cause)
      ending = {
        _tag: "Failed",
        detail: Option.isSome(failure) ? Runtime.describe(failure.value) : Cause.pretty(exit.cause),
        hook: Option.isSome(failure) && failure.value instanceof Runtime.HookError
          ? { hook: failure.value.hook, error: failure.value.message }
          : null
      }
    }
    const decision = Run.end(rt.me, run, ending._tag === "Failed" ? Assemble.cut(run.assembly).items : [], ending)
    run.state = "idle"
    return close(rt, run, decision)
  })

/** Starts a run (new, or resumed at its calls) in the agent's `FiberHandle`. */
export const startRun = (rt: Runtime.Runtime, run: Run.RunState, first: Run.Step) =>
  Effect.gen(function*() {
    const fiber = yield* FiberHandle.run(
      rt.runs,
      Effect.flatMap(Effect.exit(steps(rt, run, first)), (exit) => Effect.uninterruptible(end(rt, run, exit)))
    )
    rt.current = { state: run, fiber }
  })

/** Stops the run going: its fiber and calls gone, what it left open is closed (`Run.stop`). */
export const stopRun = (rt: Runtime.Runtime, reason: string) =>
  Effect.gen(function*() {
    const running = rt.current
    if (running === undefined) return
    rt.current = undefined
    yield* Fiber.interrupt(running.fiber)
    const run = running.state
    yield* close(rt, run, Run.stop(rt.me, run, run.ended ? [] : Assemble.cut(run.assembly).items, reason))
  })

/** Runs one of the controller's commands. */
export const interpret = (rt: Runtime.Runtime, command: Controller.Command) => {
  switch (command._tag) {
    case "Publish":
      return Effect.asVoid(Runtime.publish(rt, command.payload))
    case "StartRun":
      return startRun(rt, Run.make(rt.me, command.runId), { _tag: "Infer", turn: 1 })
    case "StopRun":
      return stopRun(rt, command.reason)
  }
}

/** One decision of the controller: a pure transition, then its commands, in order. */
export const handle = (rt: Runtime.Runtime, input: Controller.Input) =>
  Effect.flatMap(
    Ref.modify(rt.controller, (state) => {
      const [next, commands] = Controller.decide(rt.settings, state, input)
      return [commands, next] as const
    }),
    (commands) => Effect.forEach(commands, (command) => interpret(rt, command), { discard: true })
  )

/** After a restart: the plan made from the fold of the journal (`resume.ts`), carried out. */
export const restore = (rt: Runtime.Runtime, plan: Resume.Plan) =>
  Effect.gen(function*() {
    yield* Ref.update(rt.controller, (state) => Controller.restored(state, plan.queued, null))
    const cut = plan.cut
    if (cut === null) return
    const { run, resumable } = cut
    for (const output of cut.outputs) {
      run.answered.add(output.callId)
      run.outputs.set(output.callId, output)
    }
    yield* Runtime.emitAll(rt, cut.commands)
    if (cut.next === "continue") {
      // Answers may arrive before the resumed run reaches its calls: register the waits now.
      for (const [call, stage] of resumable) {
        if (stage === "awaiting_approval") yield* rt.approvals.registerResumed(run.runId, call.callId)
      }
      yield* Runtime.publish(rt, new Event.RunStarted({ participant: rt.me, runId: run.runId, trigger: null }))
      yield* startRun(rt, run, { _tag: "Call", turn: cut.turn, calls: resumable })
      yield* Ref.update(rt.controller, (state) => Controller.restored(state, [], run.runId))
      return
    }
    // Cut mid-inference: it ends as interrupted, its partial output kept as incomplete.
    yield* close(rt, run, Run.stop(rt.me, run, Assemble.cut(run.assembly).items, "interrupted by a restart"))
  })
