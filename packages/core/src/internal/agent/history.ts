/**
 * What an agent's journal says about it, as one pure fold: a {@link Reducer} over the
 * environment's events from one agent's point of view. Resuming after a restart is this fold
 * over the journal, then a decision on its result (`resume.ts`): no accumulators of
 * its own, and the same reducers (`Reducer.transcript`, `Commands.reducer`) that every other
 * reader of the journal uses.
 *
 * @internal
 */
import { Chunk, HashMap, HashSet, Option } from "effect"
import * as Commands from "../../Commands.js"
import type * as ContextItem from "../../ContextItem.js"
import type * as Event from "../../Event.js"
import * as Reducer from "../../Reducer.js"
import type * as Agent from "../../Agent.js"
import { isMessage } from "./context.js"
import * as Triggers from "./triggers.js"

/** A message from another participant, as it reached the agent. */
export interface Message {
  readonly item: ContextItem.Message
  readonly event: Event.Event
  readonly done: Event.ItemDone
}

/** The folded history of one agent. */
export interface History {
  readonly transcript: Reducer.TranscriptState
  readonly commands: Commands.State
  /** Item ids in the order they entered the agent's context (an id may repeat: its last place wins). */
  readonly order: Chunk.Chunk<string>
  /** Messages queued or dropped: not in the context (until dequeued or steered). */
  readonly hidden: HashSet.HashSet<string>
  /** Messages the agent gave a disposition (a run, the queue, a drop). */
  readonly handled: HashSet.HashSet<string>
  readonly messages: HashMap.HashMap<string, Message>
  /** Messages in the queue, oldest first. */
  readonly queued: Chunk.Chunk<string>
  /** The run each of the agent's items belongs to. */
  readonly runOfItem: HashMap.HashMap<string, string>
  /** Inferences started per run. */
  readonly inferences: HashMap.HashMap<string, number>
  /** The inference started and not finished, if any. */
  readonly openInference: string | null
  /** The run started and not ended, if any. */
  readonly openRun: string | null
  readonly failedRuns: HashSet.HashSet<string>
  /** The sequence of the agent's last join, -1 when it left (or never joined). */
  readonly presentSince: number
}

const empty: History = {
  transcript: Reducer.transcript.initial,
  commands: Commands.reducer.initial,
  order: Chunk.empty(),
  hidden: HashSet.empty(),
  handled: HashSet.empty(),
  messages: HashMap.empty(),
  queued: Chunk.empty(),
  runOfItem: HashMap.empty(),
  inferences: HashMap.empty(),
  openInference: null,
  openRun: null,
  failedRuns: HashSet.empty(),
  presentSince: -1
}

/**
 * The events agent `me` takes: the items done (anyone's), its own items and runs, the dispositions
 * of its input, its own calls' lifecycle, calls requested and answers (anyone's, to route or refuse
 * them). The fold ignores every other event, so the agent can be spared them live (the
 * environment's fan-out skips it): the fold of what it receives is the fold of the journal.
 */
export const takes = (me: string, event: Event.Event): boolean => {
  const payload = event.payload
  switch (payload._tag) {
    case "ItemDone":
    case "FunctionCallRequested":
    case "ApprovalAnswered":
    case "ClarificationAnswered":
      return true
    case "ParticipantJoined":
    case "ParticipantLeft":
    case "RunStarted":
    case "RunEnded":
    case "InputQueued":
    case "InputDropped":
    case "InputDequeued":
    case "InputSteered":
    case "HookFailed":
    case "InterruptRequested":
      return payload.participant === me
    case "ItemAdded":
    case "TextDelta":
    case "RefusalDelta":
    case "ReasoningSummaryDelta":
    case "ReasoningDelta":
    case "FunctionCallArgumentsDelta":
    case "InferenceStarted":
    case "InferenceCompleted":
    case "InferenceFailed":
    case "InferenceInterrupted":
    case "ApprovalRequested":
    case "FunctionCallApproved":
    case "FunctionCallRejected":
    case "FunctionCallStarted":
    case "FunctionCallProgress":
    case "FunctionCallCompleted":
    case "FunctionCallFailed":
    case "FunctionCallCancelled":
      return event.author === me
    default:
      return false
  }
}

/** Stands for a user's `reactTo` predicate in the fold: it may hold state, so only the controller calls it, once. */
const anyMessage = () => true

/** May this item from someone else start a run of agent `me` (so the fold must keep it)? */
const mayTrigger = (me: string, reactTo: Agent.ReactTo, item: ContextItem.ContextItem, event: Event.Event, done: Event.ItemDone) =>
  isMessage(item) && Triggers.reaction(me, typeof reactTo === "function" ? anyMessage : reactTo, item, event, done) !== false

/** Another's finished item that agent `me` can neither see (`seesOthers`) nor be started by: the fold leaves it out. */
const unused = (me: string, seesOthers: boolean, reactTo: Agent.ReactTo, event: Event.Event): boolean => {
  const payload = event.payload
  return !seesOthers && payload._tag === "ItemDone" && payload.item.author !== me && payload.item.status !== "in_progress" &&
    !mayTrigger(me, reactTo, payload.item, event, payload)
}

/**
 * The events the fold of agent `me` uses: what it {@link takes}, less others' items it can neither
 * see nor be started by. The agent accepts only these (live, its fold is unchanged by the others,
 * and its controller would ignore them): N agents that see only their triggers are not woken by
 * each other's messages.
 */
export const uses = (me: string, seesOthers: boolean, reactTo: Agent.ReactTo = "messages") => (event: Event.Event): boolean =>
  takes(me, event) && !unused(me, seesOthers, reactTo, event)

/**
 * The fold for agent `me`; `seesOthers`: whether others' items enter its context (visibility
 * scope); `reactTo`: which messages start its runs. Others' items it can neither see nor be
 * started by are not kept (an agent holds what it may use, not the whole environment).
 */
export const reducer = (me: string, seesOthers: boolean, reactTo: Agent.ReactTo = "messages"): Reducer.Reducer<History> =>
  Reducer.make(empty, (previous, event) => {
    if (!takes(me, event) || unused(me, seesOthers, reactTo, event)) return previous
    const payload = event.payload
    const state: History = {
      ...previous,
      transcript: Reducer.transcript.reduce(previous.transcript, event),
      commands: Commands.reducer.reduce(previous.commands, event)
    }
    const mine = (participant: string) => participant === me
    switch (payload._tag) {
      case "ParticipantJoined":
        return mine(payload.participant) ? { ...state, presentSince: event.sequence } : state
      case "ParticipantLeft":
        // Messages sent while it was away (not crashed) were not its to handle.
        return mine(payload.participant) ? { ...state, presentSince: -1 } : state
      case "ItemAdded":
        return event.author === me && payload.runId !== null
          ? { ...state, runOfItem: HashMap.set(state.runOfItem, payload.item.id, payload.runId) }
          : state
      case "ItemDone": {
        const item = payload.item
        if (item.status === "in_progress") return state
        const messages = item.author !== me && mayTrigger(me, reactTo, item, event, payload)
          ? HashMap.set(state.messages, item.id, { item: item as ContextItem.Message, event, done: payload })
          : state.messages
        const order = item.author === me || seesOthers ? Chunk.append(state.order, item.id) : state.order
        return { ...state, messages, order }
      }
      case "RunStarted":
        if (!mine(payload.participant)) return state
        return {
          ...state,
          openRun: payload.runId,
          handled: payload.trigger === null ? state.handled : HashSet.add(state.handled, payload.trigger),
          // A message that starts a run enters the context even when others' messages do not.
          order: payload.trigger === null || seesOthers ? state.order : Chunk.append(state.order, payload.trigger)
        }
      case "RunEnded":
        if (!mine(payload.participant)) return state
        return {
          ...state,
          openRun: payload.runId === state.openRun ? null : state.openRun,
          openInference: payload.runId === state.openRun ? null : state.openInference,
          failedRuns: payload.outcome === "failed" ? HashSet.add(state.failedRuns, payload.runId) : state.failedRuns
        }
      case "InferenceStarted":
        if (event.author !== me) return state
        return {
          ...state,
          openInference: payload.inferenceId,
          inferences: HashMap.set(state.inferences, payload.runId, Option.getOrElse(HashMap.get(state.inferences, payload.runId), () => 0) + 1)
        }
      case "InferenceCompleted":
      case "InferenceFailed":
      case "InferenceInterrupted":
        return event.author === me && payload.inferenceId === state.openInference ? { ...state, openInference: null } : state
      case "InputQueued":
        if (!mine(payload.participant)) return state
        return {
          ...state,
          handled: HashSet.add(state.handled, payload.itemId),
          hidden: HashSet.add(state.hidden, payload.itemId),
          queued: Chunk.contains(state.queued, payload.itemId) ? state.queued : Chunk.append(state.queued, payload.itemId)
        }
      case "InputDropped":
        if (!mine(payload.participant)) return state
        return {
          ...state,
          handled: HashSet.add(state.handled, payload.itemId),
          hidden: HashSet.add(state.hidden, payload.itemId)
        }
      case "InputDequeued":
      case "InputSteered":
        if (!mine(payload.participant)) return state
        return {
          ...state,
          queued: Chunk.filter(state.queued, (id) => id !== payload.itemId),
          hidden: HashSet.remove(state.hidden, payload.itemId),
          order: Chunk.append(state.order, payload.itemId)
        }
      default:
        return state
    }
  })

/** Items a failure cut short that leave the context (a cut call keeps its place: its output refers to it). */
export const hiddenWhenFailed = (item: ContextItem.ContextItem): boolean =>
  item._tag === "ModelMessage" || item._tag === "Reasoning"

/** The agent's context: each item at its last place, without what is queued or dropped, or a failure cut short. */
export const context = (history: History): ReadonlyArray<ContextItem.ContextItem> => {
  const last = new Map<string, number>()
  let index = 0
  for (const id of history.order) last.set(id, index++)
  const items: Array<ContextItem.ContextItem> = []
  index = 0
  for (const id of history.order) {
    const at = index++
    if (last.get(id) !== at || HashSet.has(history.hidden, id)) continue
    const item = HashMap.get(history.transcript.items, id)
    if (Option.isNone(item)) continue
    const run = HashMap.get(history.runOfItem, id)
    if (
      Option.isSome(run) && HashSet.has(history.failedRuns, run.value) && item.value.status === "incomplete" &&
      hiddenWhenFailed(item.value)
    ) continue
    items.push(item.value)
  }
  return inCallOrder(items)
}

/**
 * Outputs published next to each other enter the context in the order of their calls (calls of a
 * turn run concurrently and finish in any order; the model reads them as it asked for them).
 */
const inCallOrder = (items: Array<ContextItem.ContextItem>): Array<ContextItem.ContextItem> => {
  const callAt = new Map<string, number>()
  items.forEach((item, index) => {
    if (item._tag === "FunctionCall") callAt.set(item.callId, index)
  })
  const position = (item: ContextItem.ContextItem) =>
    item._tag === "FunctionCallOutput" ? callAt.get(item.callId) ?? Number.MAX_SAFE_INTEGER : 0
  let start = 0
  while (start < items.length) {
    if (items[start]!._tag !== "FunctionCallOutput") {
      start++
      continue
    }
    let end = start
    while (end < items.length && items[end]!._tag === "FunctionCallOutput") end++
    if (end - start > 1) {
      const block = items.slice(start, end).sort((a, b) => position(a) - position(b))
      items.splice(start, block.length, ...block)
    }
    start = end
  }
  return items
}
