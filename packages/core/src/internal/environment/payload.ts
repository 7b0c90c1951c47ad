/**
 * Payloads the environment makes itself (joins, leaves, failures): built by
 * prototype, as `Event.unsafeMake` builds events. Their fields come from
 * typed values the environment holds, so the class constructor's validation
 * and default merging (a few µs per event, on the path of every join and
 * leave) would check nothing new. The result is what `new X(fields, true)`
 * builds: the same prototype, the same own fields, `_tag` last.
 *
 * @internal
 */
import * as Event from "../../Event.js"

type Fields<A> = { readonly [K in Exclude<keyof A, "_tag">]: A[K] }

export const make = <A extends Event.Payload>(
  Class: { readonly prototype: A; readonly _tag: A["_tag"] },
  fields: Fields<A>
): A => {
  const payload = Object.assign(Object.create(Class.prototype) as A, fields)
  ;(payload as { _tag: string })._tag = Class._tag
  return payload
}

/**
 * A delta of kind `tag`, built like {@link make}: `index` is its content
 * index (its summary index for a reasoning summary; unused for function call
 * arguments). For stores that keep a delta by its fields and rebuild it.
 */
export const delta = (tag: Event.Delta["_tag"], itemId: string, index: number, text: string): Event.Delta => {
  switch (tag) {
    case "TextDelta":
      return Event.unsafeTextDelta(itemId, index, text)
    case "RefusalDelta":
      return make(Event.RefusalDelta, { itemId, contentIndex: index, delta: text })
    case "ReasoningSummaryDelta":
      return make(Event.ReasoningSummaryDelta, { itemId, summaryIndex: index, delta: text })
    case "ReasoningDelta":
      return make(Event.ReasoningDelta, { itemId, contentIndex: index, delta: text })
    case "FunctionCallArgumentsDelta":
      return make(Event.FunctionCallArgumentsDelta, { itemId, delta: text })
  }
}
