/**
 * A conversation as a page paints it first: the transcript folded from the
 * journal (not replayed delta by delta), each item's run and input
 * disposition, the calls, the participants and the models the agents use,
 * with the journal identity and the last sequence to resume the event stream
 * from.
 *
 * @internal
 */
import { Activity, Commands, Elicitation, Environment, Reducer } from "@chorus/core"
import type { Event } from "@chorus/core"
import { Effect, HashMap, HashSet, Option } from "effect"
import * as EventStream from "./eventStream.js"
import * as OpenResponses from "./openResponses.js"

interface Extras {
  readonly runOf: HashMap.HashMap<string, string>
  /** Input disposition by message id: queued, steered, dropped or handled (with its run). */
  readonly inputs: HashMap.HashMap<string, { readonly state: string; readonly participant: string; readonly runId: string | null; readonly reason: string | null }>
  readonly models: HashMap.HashMap<string, string>
  readonly lastSequence: number
}

const extras: Reducer.Reducer<Extras> = Reducer.make<Extras>(
  { runOf: HashMap.empty(), inputs: HashMap.empty(), models: HashMap.empty(), lastSequence: -1 },
  (previous, event: Event.Event) => {
    const state = { ...previous, lastSequence: event.sequence }
    const p = event.payload
    switch (p._tag) {
      case "ItemAdded":
        return p.runId === null ? state : { ...state, runOf: HashMap.set(state.runOf, p.item.id, p.runId) }
      case "InputQueued":
        return { ...state, inputs: HashMap.set(state.inputs, p.itemId, { state: "queued", participant: p.participant, runId: null, reason: null }) }
      case "InputSteered":
      case "InputDequeued":
        return {
          ...state,
          inputs: HashMap.set(state.inputs, p.itemId, {
            state: p._tag === "InputSteered" ? "steered" : "handled",
            participant: p.participant,
            runId: p.runId,
            reason: null
          })
        }
      case "RunStarted":
        return p.trigger === null
          ? state
          : { ...state, inputs: HashMap.set(state.inputs, p.trigger, { state: "handled", participant: p.participant, runId: p.runId, reason: null }) }
      case "InputDropped":
        return { ...state, inputs: HashMap.set(state.inputs, p.itemId, { state: "dropped", participant: p.participant, runId: null, reason: p.reason }) }
      case "InferenceStarted":
        return p.model === null ? state : { ...state, models: HashMap.set(state.models, event.author, p.model) }
      default:
        return state
    }
  }
)

const reducer = Reducer.zip(
  Reducer.zip(Reducer.zip(Reducer.transcript, Commands.reducer), Reducer.zip(Activity.reducer, extras)),
  Elicitation.reducer
)

/** The snapshot of one environment, as JSON-ready data. */
export const make = (env: Environment.Service) =>
  Effect.gen(function*() {
    const journal = yield* Effect.orDie(EventStream.currentIdentity(env))
    // The page resumes the event stream right after the last event folded here: no gap, no delta twice.
    const [[[transcript, commands], [activity, more]], elicitations] = yield* Effect.orDie(env.snapshot(reducer))
    return {
      journal: Option.getOrNull(journal),
      last_sequence: more.lastSequence,
      items: Reducer.items(transcript).map((item) => ({
        item: OpenResponses.wireItem(item),
        run_id: Option.getOrNull(HashMap.get(more.runOf, item.id))
      })),
      inputs: Object.fromEntries([...HashMap.entries(more.inputs)].map(([id, input]) => [id, {
        state: input.state,
        participant: input.participant,
        run_id: input.runId,
        reason: input.reason
      }])),
      calls: [...HashMap.values(commands)].map((command) => ({
        call_id: command.callId,
        name: command.name,
        arguments: command.arguments,
        run_id: command.runId,
        agent: command.agent,
        status: command.status,
        answered_by: command.answeredBy,
        reason: command.reason
      })),
      participants: [...HashMap.values(activity.participants)].map((participant) => ({
        id: participant.id,
        kind: participant.kind,
        present: participant.present,
        state: participant.state,
        run_id: participant.runId,
        queued: participant.queued,
        model: Option.getOrNull(HashMap.get(more.models, participant.id))
      })),
      pending_approvals: [...HashSet.values(activity.pendingApprovals)],
      pending_questions: [...HashSet.values(activity.pendingQuestions)],
      // MCP elicitations waiting for a person.
      pending_elicitations: [...HashMap.values(elicitations.pending)].map(({ request, requester }) => ({
          elicitation_id: request.elicitationId,
          call_id: request.callId,
          server: request.server,
          message: request.message,
          requested_schema: request.requestedSchema,
          requester
        }))
    }
  })
