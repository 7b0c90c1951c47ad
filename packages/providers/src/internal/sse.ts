/**
 * A server-sent events reader that works a network chunk at a time: the bytes
 * of one read become the data of every event they complete, so the stream
 * above pays one pull per read instead of one per event (a fast model sends
 * hundreds of events per read). Line and field rules follow the WHATWG
 * event-stream format. Only `data` is kept: the OpenAI APIs name each event
 * inside its JSON (`type`), and `id` / `retry` steer reconnection, which a
 * model response never does.
 *
 * @internal
 */

/** A stateful decoder of one event stream. */
export interface Decoder {
  /** The data of the events this chunk of the body completes. */
  readonly push: (bytes: Uint8Array) => Array<string>
  /** The body ended: an event without its closing blank line is dropped, as the format says. */
  readonly end: () => Array<string>
}

const lineBreak = /\r\n|\r|\n/
const LF = 10
const CR = 13
const COLON = 58
const SPACE = 32

/** Makes the decoder of one event stream. */
export const decoder = (): Decoder => {
  const text = new TextDecoder("utf-8")
  // The unfinished last line of the previous chunk.
  let pending = ""
  // The previous chunk ended in `\r`: a `\n` starting this one belongs to that line break.
  let afterCR = false
  let data: Array<string> = []
  let first = true

  /** One line, `all[from..to)`: a blank line dispatches the event; `data:` is the only field kept. */
  const line = (out: Array<string>, all: string, from: number, to: number) => {
    if (from === to) {
      if (data.length > 0) out.push(data.length === 1 ? data[0]! : data.join("\n"))
      data = []
      return
    }
    // Comments, `event`, `id`, `retry` and unknown fields are skipped.
    if (!all.startsWith("data", from)) return
    const after = from + 4
    if (after === to) {
      data.push("")
      return
    }
    if (all.charCodeAt(after) !== COLON) return
    data.push(all.slice(after + 1 < to && all.charCodeAt(after + 1) === SPACE ? after + 2 : after + 1, to))
  }

  const lines = (chunk: string, final: boolean): Array<string> => {
    let all = pending === "" ? chunk : pending + chunk
    if (first && all.length > 0) {
      first = false
      if (all.charCodeAt(0) === 0xfeff) all = all.slice(1)
    }
    if (afterCR && all.charCodeAt(0) === LF) all = all.slice(1)
    // A chunk ending in `\r` may see its `\n` in the next one: that is one line break, not two.
    afterCR = !final && all.charCodeAt(all.length - 1) === CR
    const out: Array<string> = []
    let from = 0
    if (all.indexOf("\r") === -1) {
      // The usual case, `\n` line breaks only: native `indexOf`, no array of lines.
      for (let to = all.indexOf("\n"); to !== -1; to = all.indexOf("\n", from)) {
        line(out, all, from, to)
        from = to + 1
      }
      pending = final ? "" : all.slice(from)
      return out
    }
    const split = all.split(lineBreak)
    const last = split.pop()!
    for (const value of split) line(out, value, 0, value.length)
    pending = final ? "" : last
    return out
  }

  return {
    push: (bytes) => lines(text.decode(bytes, { stream: true }), false),
    end: () => lines(text.decode(), true)
  }
}
