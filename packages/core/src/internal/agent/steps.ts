/**
 * What moves a run on, as pure decisions on the events its steps publish. An inference reports
 * its start, the function calls it produced, and its end (`InferenceCompleted`, after the
 * `afterInference` hooks, or `InferenceFailed`); a call reports its output. A failed hook
 * reports `HookFailed`. From these the controller decides: the turn's calls (at most
 * `concurrency` at once, the next one as an output arrives), the next inference once every call
 * has its output (steered input first), or the run's end — completed, at the turn limit, or
 * failed.
 *
 * @internal
 */
import { Chunk, HashSet } from "effect"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import { Command, type Input, type Settings, type State, type Step, type Transition, without } from "./controller.js"
import type * as Run from "./run.js"

const nothing = (state: State): Transition => [state, []]

/** Starts waiting calls while fewer than `concurrency` are open. */
const startCalls = (settings: Settings, step: Step): readonly [Step, Array<Command>] => {
  let waiting = step.waiting
  let open = step.open
  const commands: Array<Command> = []
  while (HashSet.size(open) < settings.concurrency && Chunk.isNonEmpty(waiting)) {
    const [call, stage] = Chunk.headNonEmpty(waiting)
    waiting = Chunk.drop(waiting, 1)
    open = HashSet.add(open, call.callId)
    commands.push(Command.StartCall({ runId: step.runId, call, stage }))
  }
  return [{ ...step, waiting, open }, commands]
}

const end = (state: State, step: Step, ending: Run.Ending): Transition => [
  { ...state, step: { ...step, at: "ending" } },
  [Command.EndRun({ runId: step.runId, ending })]
]

/** Every call of the turn has its output: the next inference (steered input first), or the turn limit. */
const afterCalls = (settings: Settings, state: State, step: Step): Transition => {
  if (step.turn >= settings.maxTurns) {
    return end(state, step, { _tag: "Finished", outcome: "turn_limit", detail: `stopped after ${settings.maxTurns} inferences` })
  }
  const steered: Array<Command> = []
  for (const entry of state.steer) {
    steered.push(Command.Publish({
      payload: new Event.InputSteered({ participant: settings.me, itemId: entry.item.id, runId: step.runId })
    }))
  }
  const turn = step.turn + 1
  return [
    {
      ...state,
      steer: Chunk.empty(),
      deferred: without(state.deferred, state.steer),
      step: { ...step, turn, at: "inference", produced: Chunk.empty(), failed: null }
    },
    [...steered, Command.StartInference({ runId: step.runId, turn })]
  ]
}

/** The calls of a turn start (or, after a restart, the calls a cut run left to finish). */
const calls = (
  settings: Settings,
  state: State,
  step: Step,
  turnCalls: Chunk.Chunk<readonly [ContextItem.FunctionCall, Run.Stage]>
): Transition => {
  const [started, commands] = startCalls(settings, { ...step, at: "calls", waiting: turnCalls, open: HashSet.empty() })
  return [{ ...state, step: started }, commands]
}

const reported = (settings: Settings, state: State, step: Step, payload: Event.Payload): Transition => {
  switch (payload._tag) {
    case "InferenceStarted":
      return [{ ...state, step: { ...step, inferenceId: payload.inferenceId } }, []]
    case "ItemDone": {
      const item = payload.item
      if (item._tag === "FunctionCall" && step.at === "inference") {
        return [{ ...state, step: { ...step, produced: Chunk.append(step.produced, item) } }, []]
      }
      if (item._tag !== "FunctionCallOutput" || step.at !== "calls" || !HashSet.has(step.open, item.callId)) return nothing(state)
      const [started, commands] = startCalls(settings, { ...step, open: HashSet.remove(step.open, item.callId) })
      return HashSet.size(started.open) > 0 ? [{ ...state, step: started }, commands] : afterCalls(settings, state, started)
    }
    case "InferenceCompleted": {
      if (step.at !== "inference" || payload.inferenceId !== step.inferenceId) return nothing(state)
      const done = { ...step, inferenceId: null }
      if (step.failed !== null) return end(state, done, { _tag: "Failed", detail: step.failed, hook: null })
      if (Chunk.isEmpty(step.produced)) return end(state, done, { _tag: "Finished", outcome: "completed", detail: null })
      return calls(settings, state, { ...done, produced: Chunk.empty() }, Chunk.map(step.produced, (call) => [call, "new"] as const))
    }
    case "InferenceFailed":
      return step.at === "inference" ? end(state, { ...step, inferenceId: null }, { _tag: "Failed", detail: payload.error, hook: null }) : nothing(state)
    case "HookFailed":
      // While the inference is open (`afterInference`), its end comes next: the run fails then.
      if (step.at === "inference" && step.inferenceId !== null) return [{ ...state, step: { ...step, failed: payload.error } }, []]
      return end(state, step, { _tag: "Failed", detail: payload.error, hook: null })
    default:
      return nothing(state)
  }
}

/** The run's steps, as the controller's decisions. */
export const decide = (
  settings: Settings,
  state: State,
  input: Extract<Input, { readonly _tag: "Resumed" | "Reported" | "Died" }>
): Transition => {
  switch (input._tag) {
    case "Resumed": {
      const step: Step = {
        runId: input.runId,
        turn: input.turn,
        at: "calls",
        inferenceId: null,
        produced: Chunk.empty(),
        waiting: Chunk.empty(),
        open: HashSet.empty(),
        failed: null
      }
      return calls(settings, { ...state, running: input.runId }, step, Chunk.fromIterable(input.calls))
    }
    case "Reported":
    case "Died": {
      const step = state.step
      if (step === null || step.runId !== input.runId || step.at === "ending") return nothing(state)
      if (input._tag === "Died") return end(state, step, { _tag: "Failed", detail: input.detail, hook: null })
      return reported(settings, state, step, input.payload)
    }
  }
}
