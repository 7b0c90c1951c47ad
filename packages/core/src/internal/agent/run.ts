/**
 * A run's own state: what it has open (the inference's assembly, its calls and their outputs),
 * which the controller closes when it ends or stops the run — pure decisions (`close`, `stop`,
 * `end`) on that data once the run's fibers are gone.
 *
 * The state is data, changed by pure functions (`withState`, `withCall`, `withOutput`, …). The
 * run going holds it in a `Ref` ({@link Current}): its step fibers update it, the controller reads
 * it after interrupting them.
 *
 * @internal
 */
import { Effect, Ref } from "effect"
import type * as Commands from "../../Commands.js"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as Tool from "../../Tool.js"
import * as Assemble from "../inference/assemble.js"
import { Command } from "./controller.js"

/** What a run has open: what the controller closes when it stops the run. */
export interface RunState {
  readonly runId: string
  readonly state: Event.AgentState
  readonly inferenceId: string | null
  /**
   * The current inference's assembly: the items streaming now, closed by the assembler if the run is cut.
   * The assembly itself is mutable, owned by the inference's fiber (the hot path of every delta).
   */
  readonly assembly: Assemble.Assembly
  /** The run's function calls, in the order they were produced. */
  readonly calls: ReadonlyMap<string, ContextItem.FunctionCall>
  /** Outputs published so far, by call id. */
  readonly outputs: ReadonlyMap<string, ContextItem.FunctionCallOutput>
  /** Set when the run has published its end: an interrupt after that has no effect. */
  readonly ended: boolean
  /**
   * Set by a stop once no chunk of parts is being applied: the assembly is then final, even while
   * the inference fiber is still being torn down (its HTTP request aborted).
   */
  readonly frozen: boolean
}

/**
 * A run's state being made: fresh, not shared yet, so its owner may fill it in place (resume rebuilds
 * a cut run from the journal this way) before it goes into a {@link Current}.
 */
export type Draft = { -readonly [K in keyof RunState]: RunState[K] } & {
  readonly calls: Map<string, ContextItem.FunctionCall>
  readonly outputs: Map<string, ContextItem.FunctionCallOutput>
}

/** A new run's state. */
export const make = (me: string, runId: string): Draft => ({
  runId,
  state: "idle",
  inferenceId: null,
  assembly: Assemble.empty(me, runId),
  calls: new Map(),
  outputs: new Map(),
  ended: false,
  frozen: false
})

/** The agent's state changes to `to`. */
export const withState = (to: Event.AgentState) => (run: RunState): RunState => run.state === to ? run : { ...run, state: to }

/** An inference starts (its id) or ends (null). */
export const withInference = (inferenceId: string | null) => (run: RunState): RunState => ({ ...run, inferenceId })

/** The inference going assembles into `assembly`. */
export const withAssembly = (assembly: Assemble.Assembly) => (run: RunState): RunState => ({ ...run, assembly })

/** A function call of the run (produced, or closed by a cut). */
export const withCall = (call: ContextItem.FunctionCall) => (run: RunState): RunState => ({
  ...run,
  calls: new Map(run.calls).set(call.callId, call)
})

/** A call's output is published. */
export const withOutput = (item: ContextItem.FunctionCallOutput) => (run: RunState): RunState => ({
  ...run,
  outputs: new Map(run.outputs).set(item.callId, item)
})

/** The run is closed by `closing`: cut calls join its calls, cancelled outputs answer them, the agent is idle. */
export const closed = (closing: Closing) => (run: RunState): RunState => {
  const calls = new Map(run.calls)
  for (const call of closing.cutCalls) calls.set(call.callId, call)
  const outputs = new Map(run.outputs)
  for (const item of closing.outputs) outputs.set(item.callId, item)
  return { ...run, calls, outputs, state: "idle" }
}

/** The run has published its end. */
export const ended = (run: RunState): RunState => ({ ...run, ended: true, state: "idle" })

/** The assembly is final (a stop). */
export const frozen = (run: RunState): RunState => ({ ...run, frozen: true })

/** The run going: its state, and the permit a chunk of parts holds while it is applied and published. */
export interface Current {
  readonly runId: string
  readonly state: Ref.Ref<RunState>
  /** Held while a chunk of parts is applied and published (a stop waits for it, then freezes the assembly). */
  readonly applying: Effect.Semaphore
}

/** Holds a run's state while it goes. */
export const current = (run: RunState): Current => ({
  runId: run.runId,
  state: Ref.unsafeMake(run),
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

