/**
 * The terminal's screen model: a pure fold of the environment's events.
 *
 * Every item is its own block, labelled by its author. A finished block is
 * committed — printed once, whole, above everything else — so two agents
 * streaming at once never share a line. Items still streaming live in a
 * region below the committed text, each in its own block, redrawn as they
 * grow; tool calls show their arguments once, formatted, when they are
 * complete. Approvals and clarifications become prompts, answered in order.
 *
 * @internal
 */
import * as Activity from "../../Activity.js"
import * as ContextItem from "../../ContextItem.js"
import type * as Event from "../../Event.js"
import { argumentLines, body, header, outcome, reasoningText, status } from "./format.js"
import type { Line } from "./text.js"
import { oneLine } from "./text.js"

/** An item streaming now. */
export interface Block {
  readonly itemId: string
  readonly author: string
  readonly kind: "message" | "reasoning" | "call"
  /** The tool's name, for a call. */
  readonly name: string
  /** What its deltas add up to so far (for a call: the raw arguments). */
  readonly text: string
}

/** A question waiting for the person: an approval or a clarification. */
export type Prompt =
  | { readonly _tag: "Approval"; readonly callId: string; readonly author: string; readonly name: string }
  | { readonly _tag: "Question"; readonly callId: string; readonly author: string; readonly question: string }
  /** An MCP server asks for a form (`callId` is the elicitation's id). */
  | {
    readonly _tag: "Elicitation"
    readonly callId: string
    readonly author: string
    readonly server: string
    readonly schema: Readonly<Record<string, unknown>>
  }

/** A message waiting in an agent's queue. */
export interface Queued {
  readonly participant: string
  readonly itemId: string
  readonly text: string
}

/** The screen model. */
export interface View {
  /** Columns to wrap at. */
  readonly width: number
  /** The person at this terminal. */
  readonly human: string
  readonly open: ReadonlyArray<Block>
  /** Tool names by call id. */
  readonly calls: ReadonlyMap<string, string>
  /** Calls whose outcome is shown already (rejected, failed, cancelled, or their output). */
  readonly settled: ReadonlySet<string>
  /** The text of user messages by item id, for the queue. */
  readonly messages: ReadonlyMap<string, string>
  readonly queued: ReadonlyArray<Queued>
  readonly prompts: ReadonlyArray<Prompt>
  /** Prompts answered here, until the environment confirms. */
  readonly answered: ReadonlySet<string>
  /** Runs that showed `[stopped]` already. */
  readonly stopped: ReadonlySet<string>
  readonly activity: Activity.State
}

/** A view after an event: the new model and the lines to commit. */
export interface Update {
  readonly view: View
  readonly commit: ReadonlyArray<Line>
}

/** An empty screen. */
export const initial = (options: { readonly width: number; readonly human: string }): View => ({
  width: options.width,
  human: options.human,
  open: [],
  calls: new Map(),
  settled: new Set(),
  messages: new Map(),
  queued: [],
  prompts: [],
  answered: new Set(),
  stopped: new Set(),
  activity: Activity.reducer.initial
})

const withKey = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> => new Map(map).set(key, value)
const withMember = <A>(set: ReadonlySet<A>, value: A): ReadonlySet<A> => new Set(set).add(value)

const blockKind = (item: ContextItem.ContextItem): Block["kind"] | undefined => {
  switch (item._tag) {
    case "ModelMessage":
      return "message"
    case "Reasoning":
      return "reasoning"
    case "FunctionCall":
      return "call"
    default:
      return undefined
  }
}

/** A finished item as committed lines (none for items people do not read). */
const itemLines = (view: View, item: ContextItem.ContextItem): Array<Line> => {
  const width = view.width
  const stopped: Array<Line> = item.status === "incomplete" ? status("[stopped]", width, "yellow") : []
  switch (item._tag) {
    case "ModelMessage": {
      const refused = item.content.some((part) => part._tag === "Refusal")
      const text = ContextItem.text(item)
      if (text === "" && stopped.length === 0) return []
      return [header(item.author, refused ? "refuses" : undefined, "red"), ...body(text, width, refused ? "red" : "plain"), ...stopped]
    }
    case "Reasoning": {
      const text = reasoningText(item)
      if (text === "" && stopped.length === 0) return []
      return [header(item.author, "thinking"), ...body(text, width, "dim"), ...stopped]
    }
    case "FunctionCall":
      return [header(item.author, `⚙ ${item.name}`, "cyan"), ...argumentLines(item.arguments, width), ...stopped]
    case "UserMessage":
      return [header(item.author), ...body(ContextItem.text(item), width, "plain")]
    default:
      return []
  }
}

const withoutPrompt = (view: View, callId: string): View => ({
  ...view,
  prompts: view.prompts.filter((prompt) => prompt.callId !== callId)
})

const settle = (view: View, callId: string): View => ({ ...withoutPrompt(view, callId), settled: withMember(view.settled, callId) })

const nameOf = (view: View, callId: string) => view.calls.get(callId) ?? "the call"

const onItemDone = (view: View, done: Event.ItemDone): Update => {
  const item = done.item
  const rest = { ...view, open: view.open.filter((block) => block.itemId !== item.id) }
  switch (item._tag) {
    case "FunctionCallOutput": {
      if (view.settled.has(item.callId)) return { view: rest, commit: [] }
      const name = nameOf(view, item.callId)
      return {
        view: { ...rest, settled: withMember(view.settled, item.callId) },
        commit: status(`${item.isError ? "✗" : "✓"} ${name}: ${outcome(item)}`, view.width, item.isError ? "red" : "green")
      }
    }
    case "FunctionCall":
      return { view: { ...rest, calls: withKey(view.calls, item.callId, item.name) }, commit: itemLines(view, item) }
    case "UserMessage":
      return { view: { ...rest, messages: withKey(view.messages, item.id, ContextItem.text(item)) }, commit: itemLines(view, item) }
    default: {
      const stopped = item.status === "incomplete" && done.runId !== null ? withMember(view.stopped, done.runId) : view.stopped
      return { view: { ...rest, stopped }, commit: itemLines(view, item) }
    }
  }
}

const onDelta = (view: View, itemId: string, delta: string): View => ({
  ...view,
  open: view.open.map((block) => (block.itemId === itemId ? { ...block, text: block.text + delta } : block))
})

const onRunEnded = (view: View, ended: Event.RunEnded): Array<Line> => {
  const width = view.width
  switch (ended.outcome) {
    case "interrupted":
      return view.stopped.has(ended.runId) ? [] : status(`[${ended.participant} stopped]`, width, "yellow")
    case "failed":
      return status(`✗ ${ended.participant}'s run failed: ${oneLine(ended.detail ?? "", 300)}`, width, "red")
    case "turn_limit":
    case "exchange_cap":
      return status(`(${ended.participant}: ${ended.detail ?? ended.outcome.replace("_", " ")})`, width, "dim")
    default:
      return []
  }
}

/** The view after one event, and what to commit. */
export const update = (before: View, event: Event.Event): Update => {
  const view: View = { ...before, activity: Activity.reducer.reduce(before.activity, event) }
  const width = view.width
  const payload = event.payload
  const same = (commit: ReadonlyArray<Line> = []): Update => ({ view, commit })
  switch (payload._tag) {
    case "ItemAdded": {
      const item = payload.item
      const kind = blockKind(item)
      if (kind === undefined || item.status !== "in_progress") return same()
      const block: Block = {
        itemId: item.id,
        author: item.author,
        kind,
        name: item._tag === "FunctionCall" ? item.name : "",
        text: item._tag === "Reasoning" ? reasoningText(item) : ContextItem.text(item)
      }
      const calls = item._tag === "FunctionCall" ? withKey(view.calls, item.callId, item.name) : view.calls
      return { view: { ...view, calls, open: [...view.open, block] }, commit: [] }
    }
    case "TextDelta":
    case "RefusalDelta":
    case "ReasoningDelta":
    case "FunctionCallArgumentsDelta":
      return { view: onDelta(view, payload.itemId, payload.delta), commit: [] }
    case "ReasoningSummaryDelta":
      return { view: onDelta(view, payload.itemId, payload.delta), commit: [] }
    case "ItemDone":
      return onItemDone(view, payload)
    case "ApprovalRequested": {
      const known = view.calls.has(payload.callId)
      const prompt: Prompt = { _tag: "Approval", callId: payload.callId, author: event.author, name: payload.name }
      return {
        view: { ...view, calls: withKey(view.calls, payload.callId, payload.name), prompts: [...view.prompts, prompt] },
        commit: [
          ...(known ? [] : [header(event.author, `⚙ ${payload.name}`, "cyan"), ...argumentLines(payload.arguments, width)]),
          ...status(`? ${payload.name} waits for your approval`, width, "yellow")
        ]
      }
    }
    case "FunctionCallApproved":
      return { view: withoutPrompt(view, payload.callId), commit: status(`✓ approved by ${payload.by}`, width, "green") }
    case "FunctionCallRejected": {
      // The person's own words (or nothing), never the text the model is shown about the rejection.
      const reason = payload.reason.trim() === "" || payload.reason === "rejected"
        ? ""
        : payload.reason.startsWith("instead: ")
        ? `, who asked instead: ${oneLine(payload.reason.slice("instead: ".length), 300)}`
        : `: ${oneLine(payload.reason, 300)}`
      return {
        view: settle(view, payload.callId),
        commit: status(`✗ ${nameOf(view, payload.callId)} rejected by ${payload.by}${reason}`, width, "red")
      }
    }
    case "FunctionCallStarted":
      return same(status(`… running ${payload.name}`, width, "dim"))
    case "FunctionCallFailed":
      return {
        view: settle(view, payload.callId),
        commit: status(`✗ ${nameOf(view, payload.callId)} failed: ${oneLine(payload.error, 300)}`, width, "red")
      }
    case "FunctionCallCancelled":
      if (view.settled.has(payload.callId)) return { view: withoutPrompt(view, payload.callId), commit: [] }
      return {
        view: settle(view, payload.callId),
        commit: status(`✗ ${nameOf(view, payload.callId)} cancelled (${oneLine(payload.reason, 200)})`, width, "yellow")
      }
    case "ClarificationRequested": {
      const prompt: Prompt = { _tag: "Question", callId: payload.callId, author: event.author, question: payload.question }
      return {
        view: { ...view, prompts: [...view.prompts, prompt] },
        commit: [header(event.author, "asks you", "yellow"), ...body(payload.question, width, "yellow")]
      }
    }
    case "ClarificationAnswered":
      return { view: withoutPrompt(view, payload.callId), commit: status(`↳ ${event.author}: ${oneLine(payload.answer, 300)}`, width, "dim") }
    case "ElicitationRequested": {
      const prompt: Prompt = {
        _tag: "Elicitation",
        callId: payload.elicitationId,
        author: event.author,
        server: payload.server,
        schema: payload.requestedSchema
      }
      const fields = fieldsOf(payload.requestedSchema)
      return {
        view: { ...view, prompts: [...view.prompts, prompt] },
        commit: [
          header(payload.server, "asks you", "yellow"),
          ...body(payload.message, width, "yellow"),
          ...(fields.length === 0 ? [] : status(`fields: ${fields.join(", ")}`, width, "dim"))
        ]
      }
    }
    case "ElicitationResolved":
      return {
        view: withoutPrompt(view, payload.elicitationId),
        commit: status(`↳ ${payload.action === "accept" ? "answered" : payload.action === "decline" ? "declined" : "cancelled"} by ${payload.by}`, width, "dim")
      }
    case "ElicitationCancelled":
      return { view: withoutPrompt(view, payload.elicitationId), commit: status(`(the question was withdrawn: ${oneLine(payload.reason, 200)})`, width, "dim") }
    case "ElicitationAnswerRefused": {
      // Ask again: the answer did not count.
      const answered = new Set(view.answered)
      answered.delete(payload.elicitationId)
      return {
        view: { ...view, answered },
        commit: status(`(answer not applied: ${payload.reason.replace(/_/g, " ")}${payload.detail === null ? "" : `: ${oneLine(payload.detail, 200)}`})`, width, "yellow")
      }
    }
    case "InputQueued": {
      // People's messages; agents queue each other's answers all the time, which says nothing to the reader.
      const text = view.messages.get(payload.itemId)
      if (text === undefined) return same()
      return {
        view: { ...view, queued: [...view.queued, { participant: payload.participant, itemId: payload.itemId, text }] },
        commit: status(`(queued for ${payload.participant}: it reads it when its current run ends)`, width, "dim")
      }
    }
    case "InputDequeued":
      return {
        view: {
          ...view,
          queued: view.queued.filter((queued) => !(queued.itemId === payload.itemId && queued.participant === payload.participant))
        },
        commit: []
      }
    case "InputSteered":
      return same(status(`(steered into ${payload.participant}'s current run)`, width, "dim"))
    case "InputDropped":
      return same(status(`(${payload.participant} dropped it: ${oneLine(payload.reason, 200)})`, width, "dim"))
    case "RunEnded":
      return same(onRunEnded(view, payload))
    case "ApprovalAnswerRefused":
      return same(status(`(answer not applied: ${payload.reason.replace(/_/g, " ")})`, width, "dim"))
    case "ParticipantFailed":
      return same(status(`✗ ${payload.participant} failed: ${oneLine(payload.cause, 300)}`, width, "red"))
    case "HookFailed":
      return same(status(`✗ ${payload.participant}'s hook ${payload.hook} failed: ${oneLine(payload.error, 300)}`, width, "red"))
    case "JournalRepaired":
      return same(status(`(the journal's torn last line was cut off: ${payload.bytes} bytes)`, width, "dim"))
    default:
      return same()
  }
}

/** The view at another width (a resized terminal): what is committed stays as it was printed. */
export const resize = (view: View, width: number): View => ({ ...view, width })

/** Marks a prompt as answered here, so the next one is asked at once. */
export const answer = (view: View, callId: string): View => ({ ...view, answered: withMember(view.answered, callId) })

/** The question to ask now, if any. */
export const currentPrompt = (view: View): Prompt | undefined =>
  view.prompts.find((prompt) => !view.answered.has(prompt.callId))

/** Agents with a run going on (what Ctrl-C stops). */
export const busy = (view: View): Array<string> => {
  const running: Array<string> = []
  for (const [id, participant] of view.activity.participants) {
    if (participant.kind === "agent" && participant.runId !== null) running.push(id)
  }
  return running.sort()
}

/** Nothing is going on: no run, nothing queued, no question open. */
export const isQuiet = (view: View): boolean =>
  busy(view).length === 0 && view.queued.length === 0 && currentPrompt(view) === undefined && view.open.length === 0

/** The fields of an elicitation's form: `name (type, required)`. */
export const fieldsOf = (schema: Readonly<Record<string, unknown>>): Array<string> => {
  const properties = typeof schema.properties === "object" && schema.properties !== null ? schema.properties as Record<string, unknown> : {}
  const required = Array.isArray(schema.required) ? schema.required : []
  return Object.entries(properties).map(([name, property]) => {
    const type = typeof property === "object" && property !== null && "type" in property ? String(property.type) : "value"
    return `${name} (${type}${required.includes(name) ? ", required" : ""})`
  })
}
