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
import type * as Event from "../../Event.js"

type Fields<A> = { readonly [K in Exclude<keyof A, "_tag">]: A[K] }

export const make = <A extends Event.Payload>(
  Class: { readonly prototype: A; readonly _tag: A["_tag"] },
  fields: Fields<A>
): A => {
  const payload = Object.assign(Object.create(Class.prototype) as A, fields)
  ;(payload as { _tag: string })._tag = Class._tag
  return payload
}
