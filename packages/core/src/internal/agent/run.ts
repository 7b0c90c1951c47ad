/**
 * A run's own state: what it has open (the inference's assembly, its calls and their outputs),
 * which the controller closes when it ends or stops the run — pure decisions (`close`, `stop`,
 * `end`) on that data once the run's fibers are gone.
 *
 * The fields are written by the run's step fibers; the controller reads them after interrupting
 * those fibers.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as Commands from "../../Commands.js"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as Tool from "../../Tool.js"
import * as Assemble from "../inference/assemble.js"
import { Command } from "./controller.js"

/** What a run has open: what the controller closes when it stops the run. */
export interface RunState {
  readonly runId: string
  state: Event.AgentState
  inferenceId: string | null
  /** The current inference's assembly: the items streaming now, closed by the assembler if the run is cut. */
  assembly: Assemble.Assembly
  readonly calls: Map<string, ContextItem.FunctionCall>
  readonly answered: Set<string>
  /** Outputs published so far, by call id. */
  readonly outputs: Map<string, ContextItem.FunctionCallOutput>
  /** Set when the run has published its end: an interrupt after that has no effect. */
  ended: boolean
  /**
   * Set by a stop once no chunk of parts is being applied: the assembly is then final, even while
   * the inference fiber is still being torn down (its HTTP request aborted).
   */
  frozen: boolean
  /** Held while a chunk of parts is applied and published (a stop waits for it, then freezes the assembly). */
  readonly applying: Effect.Semaphore
}

export const make = (me: string, runId: string): RunState => ({
  runId,
  state: "idle",
  inferenceId: null,
  assembly: Assemble.empty(me, runId),
  calls: new Map(),
  answered: new Set(),
  outputs: new Map(),
  ended: false,
  frozen: false,
  applying: Effect.unsafeMakeSemaphore(1)
})

/**
 * Where a call resumes: from scratch (`new`: not even requested), or after a restart at the step it
 * had reached — spelled as the `Commands` reducer spells a call's status.
 */
export type Stage = "new" | Extract<Commands.Status, "requested" | "awaiting_approval" | "approved">

/** A call's output item, as the agent publishes it. */
export const output = (me: string, call: ContextItem.FunctionCall, result: Tool.Result): ContextItem.FunctionCallOutput =>
  new ContextItem.FunctionCallOutput({
    id: `${call.callId}_output`,
    author: me,
    status: "completed",
    callId: call.callId,
    output: result.output,
    isError: result.isError
  }, true)

/** The events that publish an output item. */
export const publishOutput = (runId: string, item: ContextItem.FunctionCallOutput): ReadonlyArray<Command> => [
  Command.Publish({ payload: new Event.ItemAdded({ item, runId }) }),
  Command.Publish({ payload: new Event.ItemDone({ item, runId, to: [], policy: null }) })
]

/** How a stopped or failed run closes what it left open. */
export interface Closing {
  readonly commands: ReadonlyArray<Command>
  /** Function calls the cut closed: they join the run's calls. */
  readonly cutCalls: ReadonlyArray<ContextItem.FunctionCall>
  /** The cancelled outputs given to calls without one. */
  readonly outputs: ReadonlyArray<ContextItem.FunctionCallOutput>
  readonly incompleteItems: ReadonlyArray<string>
  readonly cancelledCalls: ReadonlyArray<string>
}

/**
 * Closes a run, as a pure decision: the items the cut left open are done as incomplete, and every
 * call without an output gets a cancelled one. What enters the context is the fold's business
 * (`history.ts`: after a failure, a cut message or reasoning leaves the context).
 */
export const close = (
  me: string,
  run: RunState,
  cut: ReadonlyArray<ContextItem.ContextItem>,
  reason: string
): Closing => {
  const commands: Array<Command> = []
  const calls = new Map(run.calls)
  const cutCalls: Array<ContextItem.FunctionCall> = []
  for (const closed of cut) {
    if (closed._tag === "FunctionCall") {
      calls.set(closed.callId, closed)
      cutCalls.push(closed)
    }
    commands.push(Command.Publish({ payload: new Event.ItemDone({ item: closed, runId: run.runId, to: [], policy: null }) }))
  }
  const outputs: Array<ContextItem.FunctionCallOutput> = []
  const cancelledCalls: Array<string> = []
  for (const call of calls.values()) {
    // Finished before the stop: its output is published already.
    if (run.outputs.has(call.callId)) continue
    cancelledCalls.push(call.callId)
    const item = output(me, call, {
      output: `The call was cancelled before it finished (${reason}); it may not have run.`,
      isError: true
    })
    outputs.push(item)
    commands.push(
      Command.Publish({ payload: new Event.FunctionCallCancelled({ callId: call.callId, reason }) }),
      ...publishOutput(run.runId, item)
    )
  }
  return { commands, cutCalls, outputs, incompleteItems: cut.map((item) => item.id), cancelledCalls }
}

/** How the run is stopped: what to publish once its fiber is gone, and the closing to apply. */
export interface Stopping {
  readonly commands: ReadonlyArray<Command>
  /** Null when the run had already ended: the stop has no effect. */
  readonly closing: Closing | null
}

/**
 * Stops a run whose fiber is gone, as a pure decision: its inference interrupted, what it left open
 * closed (`close`), its interruption and its end published. A run that had ended already is left
 * alone, visibly.
 */
export const stop = (
  me: string,
  run: RunState,
  cut: ReadonlyArray<ContextItem.ContextItem>,
  reason: string
): Stopping => {
  const { runId } = run
  if (run.ended) {
    return {
      commands: [
        Command.Publish({ payload: new Event.InterruptIgnored({ participant: me, runId, reason: "that run has already ended" }) })
      ],
      closing: null
    }
  }
  const closing = close(me, run, cut, reason)
  const commands: Array<Command> = []
  if (run.inferenceId !== null) {
    commands.push(Command.Publish({ payload: new Event.InferenceInterrupted({ runId, inferenceId: run.inferenceId }) }))
  }
  commands.push(
    ...closing.commands,
    Command.Publish({
      payload: new Event.RunInterrupted({
        participant: me,
        runId,
        incompleteItems: closing.incompleteItems,
        cancelledCalls: closing.cancelledCalls
      })
    })
  )
  if (run.state !== "idle") {
    commands.push(Command.Publish({ payload: new Event.StateChanged({ participant: me, runId, from: run.state, to: "idle" }) }))
  }
  commands.push(Command.Publish({ payload: new Event.RunEnded({ participant: me, runId, outcome: "interrupted", detail: reason }) }))
  return { commands, closing }
}

/** How a run's own fiber ended (an interruption is a stop, decided by `stop`). */
export type Ending =
  | { readonly _tag: "Finished"; readonly outcome: Event.RunOutcome; readonly detail: string | null }
  | { readonly _tag: "Failed"; readonly detail: string; readonly hook: { readonly hook: string; readonly error: string } | null }

/**
 * Ends a run from its own fiber, as a pure decision: a finished run goes back to idle and ends with
 * its outcome; a failed one first says which hook failed, if one did, and closes what it left open
 * (`close`, a failure's cut messages out of the context), so the transcript stays valid.
 */
export const end = (me: string, run: RunState, cut: ReadonlyArray<ContextItem.ContextItem>, ending: Ending): Stopping => {
  const { runId } = run
  const commands: Array<Command> = []
  let closing: Closing | null = null
  if (ending._tag === "Failed") {
    if (ending.hook !== null) {
      commands.push(Command.Publish({
        payload: new Event.HookFailed({ participant: me, runId, hook: ending.hook.hook, error: ending.hook.error })
      }))
    }
    closing = close(me, run, cut, "the run failed")
    commands.push(...closing.commands)
  }
  if (run.state !== "idle") {
    commands.push(Command.Publish({ payload: new Event.StateChanged({ participant: me, runId, from: run.state, to: "idle" }) }))
  }
  const [outcome, detail] = ending._tag === "Finished" ? [ending.outcome, ending.detail] : ["failed" as const, ending.detail]
  commands.push(Command.Publish({ payload: new Event.RunEnded({ participant: me, runId, outcome, detail }) }))
  return { commands, closing }
}

