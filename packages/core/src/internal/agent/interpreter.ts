/**
 * The agent's interpreter: runs the controller's commands — publish, start a run, start an
 * inference (in the agent's `FiberHandle`), start a call (in the agent's `FiberMap`, keyed by run
 * and call id), end or stop a run (its fibers gone, then `Run.end` / `Run.stop` close it). The
 * steps report back only by publishing; the controller folds what it receives and decides
 * (`controller.ts`, `steps.ts`).
 *
 * @internal
 */
import { Cause, Effect, Fiber, FiberHandle, Option, Ref } from "effect"
import * as Event from "../../Event.js"
import * as Assemble from "../inference/assemble.js"
import * as Calls from "./calls.js"
import * as Controller from "./controller.js"
import * as Inference from "./inference.js"
import type * as Resume from "./resume.js"
import * as Run from "./run.js"
import * as Runtime from "./runtime.js"
import * as State from "./state.js"

/** Publishes a closing decision (`Run.end` / `Run.stop`), its bookkeeping applied to the run's state first. */
const close = (rt: Runtime.Runtime, run: Ref.Ref<Run.RunState> | null, decision: Run.Stopping) =>
  Effect.zipRight(
    decision.closing === null || run === null ? Effect.void : Ref.update(run, Run.closed(decision.closing)),
    Runtime.emitAll(rt, decision.commands)
  )

/**
 * A step reports to the controller (it died, a call needs approval, an approval timed out): from a
 * fiber of its own, since deciding may interrupt or replace the step.
 */
const report = (rt: Runtime.Runtime): Calls.Report => (input) =>
  Effect.flatMap(Runtime.fibers(rt), ({ scope }) => Effect.asVoid(Effect.forkIn(handle(rt, input), scope)))

const died = (rt: Runtime.Runtime, runId: string) => (detail: string) => report(rt)(Controller.Input.Died({ runId, detail }))

/** Inference `turn` of the run, in the agent's `FiberHandle`; it reports back by publishing. */
const startInference = (rt: Runtime.Runtime, run: Run.Current, turn: number) =>
  Effect.flatMap(Runtime.fibers(rt), ({ runs }) => FiberHandle.run(
    runs,
    Inference.infer(rt, run, turn).pipe(
      Effect.flatMap((outcome) =>
        // Skipped by `beforeInference`: nothing is open, the run ends here.
        outcome._tag === "Skipped"
          ? Effect.uninterruptible(end(rt, run, { _tag: "Finished", outcome: "skipped", detail: "beforeInference skipped the inference" }))
          : Effect.void
      ),
      Effect.catchAll((error) =>
        // An inference error is published already (`InferenceFailed`); a hook's is published here.
        error._tag === "HookError"
          ? Runtime.publish(rt, new Event.HookFailed({ participant: rt.me, runId: run.runId, hook: error.hook, error: error.message }))
          : Effect.void
      ),
      Effect.catchAllCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : died(rt, run.runId)(Cause.pretty(cause))),
      Effect.asVoid,
      Effect.withSpan(`invoke_agent ${rt.me}`, {
        attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": rt.me, "chorus.run.id": run.runId }
      })
    )
  ))

/** The run's fibers gone: its inference and its calls. */
const interruptSteps = (rt: Runtime.Runtime, run: Run.Current) =>
  Effect.zipRight(clearInference(rt), Calls.interruptAll(rt, run))

/** Interrupts the inference going, if any (and waits for it). */
const clearInference = (rt: Runtime.Runtime) =>
  Effect.suspend(() => rt.fibers === undefined ? Effect.void : FiberHandle.clear(rt.fibers.runs))

/** A run's end by its own steps (`Run.end`): finished, or failed with what it left open closed. */
const end = (rt: Runtime.Runtime, run: Run.Current, ending: Run.Ending) =>
  Effect.flatMap(
    Ref.modify(run.state, (state) => [state.ended ? null : state, state.ended ? state : Run.ended(state)] as const),
    (state) =>
      state === null
        ? Effect.void
        : close(rt, run.state, Run.end(rt.me, state, ending._tag === "Failed" ? Assemble.cut(state.assembly).items : [], ending))
  )

/** The agent stops with its environment: the run's fibers go, what it left open stays for resume. */
export const halt = (rt: Runtime.Runtime) => rt.current === undefined ? Effect.void : interruptSteps(rt, rt.current)

/**
 * Stops the run going (`Run.stop`). Its inference is interrupted and, once no chunk of parts is being
 * applied, its assembly is frozen: the interruption, the incomplete items and the cancelled outputs are
 * published then — with the calls gone, without waiting for the inference's teardown (an HTTP abort),
 * which the fiber finishes before the agent's next inference starts.
 */
export const stopRun = (rt: Runtime.Runtime, reason: string) =>
  Effect.gen(function*() {
    const run = rt.current
    if (run === undefined) return
    rt.current = undefined
    const inference = rt.fibers === undefined ? Option.none() : FiberHandle.unsafeGet(rt.fibers.runs)
    if (Option.isSome(inference)) yield* Fiber.interruptFork(inference.value)
    yield* run.applying.withPermits(1)(Ref.update(run.state, Run.frozen))
    yield* Calls.interruptAll(rt, run)
    // Read once the calls are gone: an output a call published while it was being interrupted is in it.
    const state = yield* Ref.get(run.state)
    yield* close(rt, run.state, Run.stop(rt.me, state, state.ended ? [] : Assemble.cut(state.assembly).items, reason))
    yield* clearInference(rt)
  })

/** Runs `f` on the run going if it is run `runId` (a command for a run stopped meanwhile does nothing). */
const ofRun = (rt: Runtime.Runtime, runId: string, f: (run: Run.Current) => Effect.Effect<void>) =>
  Effect.suspend(() => rt.current?.runId === runId ? Effect.asVoid(f(rt.current)) : Effect.void)

/** Runs one of the agent's commands. */
export const interpret = (rt: Runtime.Runtime, command: State.Command): Effect.Effect<void> => {
  switch (command._tag) {
    case "Publish":
      return Effect.asVoid(Runtime.publish(rt, command.payload))
    case "StartRun":
      return Effect.sync(() => {
        rt.current = Run.current(Run.make(rt.me, command.runId))
      })
    case "StartInference":
      return Effect.suspend(() =>
        rt.current?.runId === command.runId ? Effect.asVoid(startInference(rt, rt.current, command.turn)) : Effect.void
      )
    case "StartCall":
      return ofRun(rt, command.runId, (run) => Calls.start(rt, run, command.call, command.stage, report(rt)))
    case "AskApproval":
      return ofRun(rt, command.runId, (run) => Calls.ask(rt, run, command.call, report(rt)))
    case "ApprovalTimer":
      return ofRun(rt, command.runId, (run) => Calls.timer(rt, run, command.callId, command.after, report(rt)))
    case "DenyCall":
      return ofRun(rt, command.runId, (run) => Calls.deny(rt, run, command.call, command.by, command.reason, report(rt)))
    case "AskQuestion":
      return ofRun(rt, command.runId, (run) => Calls.askQuestion(rt, run, command.callId, command.question, report(rt)))
    case "AnswerQuestion":
      return ofRun(rt, command.runId, (run) => Calls.answerQuestion(rt, run, command.call, command.answer, report(rt)))
    case "EndRun":
      return Effect.suspend(() => {
        const run = rt.current
        if (run?.runId !== command.runId) return Effect.void
        return Effect.uninterruptible(Effect.zipRight(interruptSteps(rt, run), end(rt, run, command.ending)))
      })
    case "StopRun":
      return stopRun(rt, command.reason)
  }
}

/** One decision: a pure transition, then its commands, in order. */
export const handle = (rt: Runtime.Runtime, input: State.Input): Effect.Effect<void> =>
  Effect.flatMap(
    Ref.modify(rt.state, (state) => {
      const [next, commands] = State.decide(rt.settings, state, input)
      return [commands, next] as const
    }),
    (commands) => Effect.forEach(commands, (command) => interpret(rt, command), { discard: true })
  )

/** After a restart: the plan made from the fold of the journal (`resume.ts`), carried out. */
export const restore = (rt: Runtime.Runtime, plan: Resume.Plan) =>
  Effect.gen(function*() {
    yield* Ref.update(rt.state, (state) => ({ ...state, controller: Controller.restored(state.controller, plan.queued) }))
    const cut = plan.cut
    if (cut === null) return
    const { resumable, run } = cut
    yield* Runtime.emitAll(rt, cut.commands)
    if (cut.next === "continue") {
      yield* Runtime.publish(rt, new Event.RunStarted({ participant: rt.me, runId: run.runId, trigger: null }))
      rt.current = Run.current(run)
      yield* handle(rt, Controller.Input.Resumed({ runId: run.runId, turn: cut.turn, calls: resumable }))
      return
    }
    // Cut mid-inference: it ends as interrupted, its partial output kept as incomplete.
    yield* close(rt, null, Run.stop(rt.me, run, Assemble.cut(run.assembly).items, "interrupted by a restart"))
  })
