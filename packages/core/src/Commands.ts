/**
 * The command lifecycle as a pure reducer: call id → the state of that
 * function call and who answered its approval.
 *
 * requested → awaiting_approval → approved / rejected → running →
 * completed / failed / cancelled, keyed by call id. Replaying the same events
 * always gives the same state.
 *
 * @since 0.1.0
 */
import { HashMap, Option } from "effect"
import type * as Event from "./Event.js"
import * as Reducer from "./Reducer.js"

/** Where a call is in its lifecycle. */
export type Status =
  | "requested"
  | "awaiting_approval"
  | "approved"
  | "rejected"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"

/** One call. */
export interface Command {
  readonly callId: string
  readonly name: string
  readonly arguments: string
  readonly runId: string
  /** The agent that asked for it. */
  readonly agent: string
  readonly status: Status
  readonly answeredBy: string | null
  readonly reason: string | null
  readonly progress: number | null
  readonly total: number | null
  /** Whether the call had an output (a completed, failed or cancelled call always gets one). */
  readonly hasOutput: boolean
}

/** Every call seen, by call id. */
export type State = HashMap.HashMap<string, Command>

const update = (state: State, callId: string, f: (command: Command) => Command): State =>
  Option.match(HashMap.get(state, callId), {
    onNone: () => state,
    onSome: (command) => HashMap.set(state, callId, f(command))
  })

/** Is the call finished (no further step will happen)? */
export const isFinished = (command: Command): boolean =>
  command.status === "completed" || command.status === "failed" || command.status === "cancelled" ||
  (command.status === "rejected" && command.hasOutput)

/** The command lifecycle reducer. */
export const reducer: Reducer.Reducer<State> = Reducer.make<State>(HashMap.empty(), (state, event: Event.Event) => {
  const payload = event.payload
  switch (payload._tag) {
    case "FunctionCallRequested":
      return HashMap.set(state, payload.callId, {
        callId: payload.callId,
        name: payload.name,
        arguments: payload.arguments,
        runId: payload.runId,
        agent: event.author,
        status: "requested",
        answeredBy: null,
        reason: null,
        progress: null,
        total: null,
        hasOutput: false
      })
    case "ApprovalRequested":
      return update(state, payload.callId, (command) => ({ ...command, status: "awaiting_approval", arguments: payload.arguments }))
    case "FunctionCallApproved":
      return update(state, payload.callId, (command) => ({ ...command, status: "approved", answeredBy: payload.by }))
    case "FunctionCallRejected":
      return update(state, payload.callId, (command) => ({
        ...command,
        status: "rejected",
        answeredBy: payload.by,
        reason: payload.reason
      }))
    case "FunctionCallStarted":
      return update(state, payload.callId, (command) => ({ ...command, status: "running" }))
    case "FunctionCallProgress":
      return update(state, payload.callId, (command) => ({ ...command, progress: payload.progress, total: payload.total }))
    case "FunctionCallCompleted":
      return update(state, payload.callId, (command) => ({ ...command, status: payload.isError ? "failed" : "completed" }))
    case "FunctionCallFailed":
      return update(state, payload.callId, (command) => ({ ...command, status: "failed", reason: payload.error }))
    case "FunctionCallCancelled":
      return update(state, payload.callId, (command) =>
        command.status === "rejected" ? command : { ...command, status: "cancelled", reason: payload.reason })
    case "ItemDone":
      return payload.item._tag === "FunctionCallOutput"
        ? update(state, payload.item.callId, (command) => ({ ...command, hasOutput: true }))
        : state
    default:
      return state
  }
}, {
  // The kinds the switch above reads: a replay for this reducer decodes nothing else.
  kinds: [
    "FunctionCallRequested",
    "ApprovalRequested",
    "FunctionCallApproved",
    "FunctionCallRejected",
    "FunctionCallStarted",
    "FunctionCallProgress",
    "FunctionCallCompleted",
    "FunctionCallFailed",
    "FunctionCallCancelled",
    "ItemDone"
  ]
})

/** Calls waiting for an approval, oldest first. */
export const pendingApprovals = (state: State): Array<Command> =>
  [...HashMap.values(state)].filter((command) => command.status === "awaiting_approval")
