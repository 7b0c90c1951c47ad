/**
 * What a UI needs now, as a pure reducer: the state of each agent, its
 * current run (can it be interrupted?), how many messages wait in its queue,
 * which approvals and questions are pending, who is present.
 *
 * @since 0.1.0
 */
import { HashMap, HashSet, Option } from "effect"
import type * as Event from "./Event.js"
import * as Reducer from "./Reducer.js"

/** One participant as a UI shows it. */
export interface Participant {
  readonly id: string
  readonly kind: Event.ParticipantKind
  readonly present: boolean
  readonly state: Event.AgentState
  /** The run going on now: the one an interrupt would stop. */
  readonly runId: string | null
  /** Messages waiting in its queue. */
  readonly queued: number
}

/** The UI state. */
export interface State {
  readonly participants: HashMap.HashMap<string, Participant>
  /** Call ids waiting for an approval. */
  readonly pendingApprovals: HashSet.HashSet<string>
  /** Call ids of questions waiting for a person's answer. */
  readonly pendingQuestions: HashSet.HashSet<string>
}

const blank = (id: string, kind: Event.ParticipantKind): Participant => ({
  id,
  kind,
  present: true,
  state: "idle",
  runId: null,
  queued: 0
})

const update = (state: State, id: string, f: (participant: Participant) => Participant): State => {
  const current = Option.getOrElse(HashMap.get(state.participants, id), () => blank(id, "agent"))
  return { ...state, participants: HashMap.set(state.participants, id, f(current)) }
}

/** The UI reducer. */
export const reducer: Reducer.Reducer<State> = Reducer.make<State>(
  { participants: HashMap.empty(), pendingApprovals: HashSet.empty(), pendingQuestions: HashSet.empty() },
  (state, event) => {
    const payload = event.payload
    switch (payload._tag) {
      case "ParticipantJoined":
        return { ...state, participants: HashMap.set(state.participants, payload.participant, blank(payload.participant, payload.kind)) }
      case "ParticipantLeft":
      case "ParticipantFailed":
        return update(state, payload.participant, (p) => ({ ...p, present: false, state: "idle", runId: null }))
      case "ParticipantRestarted":
        return update(state, payload.participant, (p) => ({ ...p, present: true }))
      case "RunStarted":
        return update(state, payload.participant, (p) => ({ ...p, runId: payload.runId }))
      case "RunEnded":
        return update(state, payload.participant, (p) => p.runId === payload.runId ? { ...p, runId: null, state: "idle" } : p)
      case "StateChanged":
        return update(state, payload.participant, (p) => ({ ...p, state: payload.to }))
      case "InputQueued":
        return update(state, payload.participant, (p) => ({ ...p, queued: p.queued + 1 }))
      case "InputDequeued":
        return update(state, payload.participant, (p) => ({ ...p, queued: Math.max(0, p.queued - 1) }))
      case "ApprovalRequested":
        return { ...state, pendingApprovals: HashSet.add(state.pendingApprovals, payload.callId) }
      case "FunctionCallApproved":
      case "FunctionCallRejected":
      case "FunctionCallCancelled":
        return {
          ...state,
          pendingApprovals: HashSet.remove(state.pendingApprovals, payload.callId),
          pendingQuestions: HashSet.remove(state.pendingQuestions, payload.callId)
        }
      case "ClarificationRequested":
        return { ...state, pendingQuestions: HashSet.add(state.pendingQuestions, payload.callId) }
      case "ClarificationAnswered":
        return { ...state, pendingQuestions: HashSet.remove(state.pendingQuestions, payload.callId) }
      default:
        return state
    }
  }
)

/** Can this participant's current run be interrupted? */
export const canInterrupt = (state: State, id: string): boolean =>
  Option.match(HashMap.get(state.participants, id), { onNone: () => false, onSome: (p) => p.runId !== null })
