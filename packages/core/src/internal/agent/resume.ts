/**
 * Resume after a restart, as a pure decision on the fold of the journal (`history.ts`): which
 * input waits for a run, what the context holds, and what becomes of a run the restart cut — its
 * inference interrupted, a call that had started answered as interrupted (never run again), the
 * calls still to finish resumed at the stage they reached, or, cut mid-inference, the run
 * interrupted (`Run.stop`).
 *
 * @internal
 */
import { Chunk, HashMap, HashSet, Option } from "effect"
import type * as Agent from "../../Agent.js"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import * as Reducer from "../../Reducer.js"
import { Command, type Queued } from "./controller.js"
import * as History from "./history.js"
import * as Run from "./run.js"
import * as Triggers from "./triggers.js"

/** What the restart cut: the run rebuilt from the journal, and what to do with it. */
export interface CutRun {
  readonly run: Run.RunState
  /** Published first: the cut inference, the interrupted calls' outputs (the run's state has them). */
  readonly commands: ReadonlyArray<Command>
  /** The calls to finish, at their stage; empty when the run ends interrupted instead. */
  readonly resumable: ReadonlyArray<readonly [ContextItem.FunctionCall, Run.Stage]>
  /** `continue`: resume the calls, then infer again after `turn`; `interrupt`: the run ends interrupted. */
  readonly next: "continue" | "interrupt"
  readonly turn: number
}

export interface Plan {
  readonly context: ReadonlyArray<ContextItem.ContextItem>
  readonly queued: ReadonlyArray<Queued>
  readonly cut: CutRun | null
}

/** Messages that reached agent `me` while it was present but were never handled: they died with the process. */
const unhandled = (history: History.History): Array<History.Message> => {
  const presentSince = history.presentSince
  if (presentSince < 0) return []
  return [...HashMap.values(history.messages)].filter((entry) =>
    !HashSet.has(history.handled, entry.item.id) && entry.event.sequence > presentSince
  )
}

/** Whether the plan needs to know the kind of some message's author (a fact the caller looks up only then). */
export const needsKinds = (me: string, reactTo: Agent.ReactTo, history: History.History): boolean =>
  // A predicate never answers "unless-agent" (and may hold state: it is not called here).
  typeof reactTo !== "function" && unhandled(history).some((entry) => Triggers.reaction(me, reactTo, entry.item, entry.event, entry.done) === "unless-agent")

/** Resume for agent `me`, from the fold of its journal; `kindOf`: a participant's kind, as the journal says. */
export const plan = (
  me: string,
  reactTo: Agent.ReactTo,
  history: History.History,
  kindOf: (participant: string) => Event.ParticipantKind | undefined
): Plan => {
  const { commands, messages, transcript } = history
  let { handled, hidden, queued } = history
  for (const entry of unhandled(history)) {
    const reaction = Triggers.reaction(me, reactTo, entry.item, entry.event, entry.done)
    const triggers = reaction === "unless-agent" ? kindOf(entry.item.author) !== "agent" : reaction
    if (!triggers) continue
    handled = HashSet.add(handled, entry.item.id)
    hidden = HashSet.add(hidden, entry.item.id)
    queued = Chunk.append(queued, entry.item.id)
  }
  const waiting: Array<Queued> = []
  for (const id of queued) {
    const entry = HashMap.get(messages, id)
    if (Option.isSome(entry)) waiting.push({ item: entry.value.item, event: entry.value.event })
  }
  const context = History.context({ ...history, hidden })
  if (history.openRun === null) return { context, queued: waiting, cut: null }
  // A run cut by the restart. Its inference, if one was open, was cut too.
  const runId = history.openRun
  const out: Array<Command> = []
  if (history.openInference !== null) {
    out.push(Command.Publish({ payload: new Event.InferenceInterrupted({ runId, inferenceId: history.openInference }) }))
  }
  // Rebuilt in place: the draft is not shared until the interpreter holds it.
  const run = Run.make(me, runId)
  const { calls, outputs } = run
  for (const item of Reducer.items(transcript)) {
    if (item.author !== me) continue
    if (item._tag === "FunctionCallOutput") {
      if (calls.has(item.callId)) outputs.set(item.callId, item)
      continue
    }
    if (Option.getOrUndefined(HashMap.get(history.runOfItem, item.id)) !== runId) continue
    // The transcript has folded its deltas already.
    if (item.status === "in_progress") run.assembly.open.set(item.id, { item, deltas: [] })
    else if (item._tag === "FunctionCall") calls.set(item.callId, item)
  }
  const resumable: Array<readonly [ContextItem.FunctionCall, Run.Stage]> = []
  for (const call of calls.values()) {
    if (outputs.has(call.callId)) continue
    const command = HashMap.get(commands, call.callId)
    const status = Option.isSome(command) ? command.value.status : "new"
    if (status === "running") {
      // At most once: a call that had started is never run again silently.
      const output = Run.output(me, call, {
        output: "The call was interrupted by a restart before it finished: it may or may not have taken effect, " +
          "and it was not run again.",
        isError: true
      })
      outputs.set(call.callId, output)
      out.push(
        Command.Publish({ payload: new Event.FunctionCallCancelled({ callId: call.callId, reason: "interrupted by a restart" }) }),
        ...Run.publishOutput(runId, output)
      )
    } else if (status === "new" || status === "requested" || status === "awaiting_approval" || status === "approved") {
      // A call whose request was never journaled is requested now, like a new one.
      resumable.push([call, status])
    }
  }
  const next = run.assembly.open.size === 0 && resumable.length > 0 ? "continue" : "interrupt"
  const turn = Option.getOrElse(HashMap.get(history.inferences, runId), () => 1)
  return { context, queued: waiting, cut: { run, commands: out, resumable: next === "continue" ? resumable : [], next, turn } }
}
