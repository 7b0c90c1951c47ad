/**
 * A run's state: what it has open, which the controller closes when it stops the run, and where
 * a run cut by a restart resumes.
 *
 * The fields are written by the run's own fiber only; the controller reads them after
 * interrupting that fiber.
 *
 * @internal
 */
import type * as Commands from "../../Commands.js"
import type * as ContextItem from "../../ContextItem.js"
import type * as Event from "../../Event.js"
import * as Assemble from "../inference/assemble.js"

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
}

export const make = (me: string, runId: string): RunState => ({
  runId,
  state: "idle",
  inferenceId: null,
  assembly: Assemble.empty(me, runId),
  calls: new Map(),
  answered: new Set(),
  outputs: new Map(),
  ended: false
})

/**
 * Where a call resumes: from scratch (`new`: not even requested), or after a restart at the step it
 * had reached — spelled as the `Commands` reducer spells a call's status.
 */
export type Stage = "new" | Extract<Commands.Status, "requested" | "awaiting_approval" | "approved">

/** Where a run cut by a restart resumes: its calls still to finish, after its last inference. */
export interface Resume {
  readonly turn: number
  readonly calls: ReadonlyArray<readonly [ContextItem.FunctionCall, Stage]>
}
