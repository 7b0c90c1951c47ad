/**
 * A server-sent events reader that works a network chunk at a time: the bytes
 * of one read become all the events they complete, so the stream above pays
 * one pull per chunk instead of one per event (a fast model sends hundreds of
 * events per read). Line and field rules follow the WHATWG event-stream
 * format; the JSON layer follows the `openai` SDK's (`[DONE]` ends the data,
 * `{"error": …}` is an error the SDK raises as an `APIError`).
 *
 * @internal
 */

/** One dispatched event: its `event:` name (or `null`) and its joined `data:` lines. */
export interface Message {
  readonly event: string | null
  readonly data: string
}

/** A stateful decoder of one event stream. */
export interface Decoder {
  /** The events completed by this chunk of the body. */
  readonly push: (bytes: Uint8Array) => Array<Message>
  /** The body ended: the events a last unterminated line completes. */
  readonly end: () => Array<Message>
}

const lineBreak = /\r\n|\r|\n/

/** Makes the decoder of one event stream. */
export const decoder = (): Decoder => {
  const text = new TextDecoder("utf-8")
  // The unfinished last line of the previous chunk (a trailing `\r` is held back: its `\n` may follow).
  let pending = ""
  let event: string | null = null
  let data: Array<string> = []
  let first = true

  const line = (out: Array<Message>, value: string) => {
    if (value === "") {
      if (data.length > 0) out.push({ event, data: data.length === 1 ? data[0]! : data.join("\n") })
      event = null
      data = []
      return
    }
    if (value.charCodeAt(0) === 58 /* ":" */) return
    const colon = value.indexOf(":")
    const field = colon < 0 ? value : value.slice(0, colon)
    const content = colon < 0 ? "" : value.slice(value.charCodeAt(colon + 1) === 32 /* " " */ ? colon + 2 : colon + 1)
    if (field === "data") data.push(content)
    else if (field === "event") event = content
    // `id` and `retry` steer reconnection, which a model response never does.
  }

  const lines = (chunk: string, final: boolean): Array<Message> => {
    let all = pending + chunk
    if (first && all.length > 0) {
      first = false
      if (all.charCodeAt(0) === 0xfeff) all = all.slice(1)
    }
    // A chunk ending in `\r` holds it back: a `\n` starting the next chunk makes one line break with it.
    const held = !final && all.endsWith("\r") ? "\r" : ""
    const split = (held === "" ? all : all.slice(0, -1)).split(lineBreak)
    const last = split.pop()!
    const out: Array<Message> = []
    for (const value of split) line(out, value)
    // At the end of the body an event without its closing blank line is dropped, as the format says.
    pending = final ? "" : last + held
    return out
  }

  return {
    push: (bytes) => lines(text.decode(bytes, { stream: true }), false),
    end: () => lines(text.decode(), true)
  }
}
