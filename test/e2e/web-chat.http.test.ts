import * as Fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Event, Reducer } from "@chorus/core"
import { Deferred, Effect, Exit, Fiber, Schema, Scope } from "effect"
import * as WebChat from "../../examples/web-chat/WebChat.js"
import * as Chat from "./support/webChat.js"

/** One SSE frame as a client parses it. */
interface Frame {
  readonly event: string
  readonly id: string
  readonly data: string
}

/**
 * Reads SSE frames from `path` until `enough` says so (or the server ends the stream), then disconnects.
 * `ended` tells whether the server ended the stream.
 */
const readFrames = (
  url: string,
  path: string,
  enough: (frames: ReadonlyArray<Frame>) => boolean,
  headers: Record<string, string> = {},
  onFrame: (frame: Frame) => void = () => {},
  onSubscribed: () => void = () => {}
) =>
  Effect.tryPromise(async (signal) => {
    const response = await fetch(new URL(path, url), { headers, signal })
    if (response.status !== 200 || response.body === null) {
      throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
    }
    assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const frames: Array<Frame> = []
    let buffer = ""
    let ended = false
    while (!enough(frames)) {
      const chunk = await reader.read()
      if (chunk.done) {
        ended = true
        break
      }
      buffer += decoder.decode(chunk.value, { stream: true })
      let end = buffer.indexOf("\n\n")
      while (end >= 0) {
        const fields = new Map<string, string>()
        for (const line of buffer.slice(0, end).split("\n")) {
          if (line.startsWith(":")) continue
          if (line.startsWith("retry:")) onSubscribed()
          const colon = line.indexOf(":")
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart())
        }
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf("\n\n")
        if (fields.has("data") && !enough(frames)) {
          const frame = { event: fields.get("event")!, id: fields.get("id")!, data: fields.get("data")! }
          frames.push(frame)
          onFrame(frame)
        }
      }
    }
    if (!ended) await reader.cancel()
    return { frames, ended }
  })

const post = (url: string, path: string, body: string) =>
  Effect.promise(async () => {
    const response = await fetch(new URL(path, url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body
    })
    return { status: response.status, json: await response.json() as Record<string, unknown> }
  })

const get = (url: string, path: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(new URL(path, url), { headers })
    return { status: response.status, json: await response.json() as Record<string, unknown> }
  })

const allEvents = (env: Chat.Env) =>
  Effect.orDie(env.snapshot(Reducer.make<Array<Event.Event>>([], (all, event) => (all.push(event), all))))

const firstRunEnded = (env: Chat.Env) => Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded"))

const decodeEvent = Schema.decodeUnknownSync(Event.Json)

describe("web-chat over HTTP", () => {
  it.live("GET /events streams every event: its wire name, its sequence as id, the encoded event as data", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const sent = yield* post(web.url, "messages", JSON.stringify({ text: "hello" }))
      assert.strictEqual(sent.status, 202)
      yield* firstRunEnded(env)
      const last = yield* env.lastSequence
      const { frames } = yield* readFrames(web.url, "events?from=0", (frames) => frames.length > last)
      const published = yield* allEvents(env)
      assert.deepStrictEqual(frames.map((frame) => Number(frame.id)), published.map((event) => event.sequence))
      for (const [index, frame] of frames.entries()) {
        const event = decodeEvent(frame.data)
        assert.deepStrictEqual(event, published[index])
        assert.strictEqual(frame.event, Event.wireName(event.payload))
      }
      const names = new Set(frames.map((frame) => frame.event))
      for (
        const name of [
          "chorus.participant.joined",
          "response.output_item.added",
          "response.reasoning_summary_text.delta",
          "response.output_text.delta",
          "response.output_item.done",
          "response.completed",
          "chorus.run.ended"
        ]
      ) assert.isTrue(names.has(name), name)
      // The message was published by the browsers' participant.
      const message = decodeEvent(frames.find((frame) => frame.event === "response.output_item.done")!.data)
      assert.strictEqual(message.author, "you")
      assert.strictEqual(message.payload._tag === "ItemDone" && message.payload.item.id, sent.json.itemId)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis"))))

  it.live("a reconnect resumes right after Last-Event-ID; ?from=N starts at N; then the stream goes on live", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      yield* post(web.url, "messages", JSON.stringify({ text: "hello" }))
      yield* firstRunEnded(env)
      const from = yield* readFrames(web.url, "events?from=3", (frames) => frames.length >= 2)
      assert.deepStrictEqual(from.frames.map((frame) => frame.id), ["3", "4"])
      // An EventSource reconnects to the same URL with the last id it saw: the header wins.
      const resumed = yield* readFrames(web.url, "events?from=0", (frames) => frames.length >= 2, { "Last-Event-ID": "5" })
      assert.deepStrictEqual(resumed.frames.map((frame) => frame.id), ["6", "7"])
      // Past the end: nothing until something happens, then the new events, in order.
      const last = yield* env.lastSequence
      const subscribed = yield* Deferred.make<void>()
      const live = yield* Effect.fork(
        readFrames(
          web.url,
          `events?from=${last + 1}`,
          (frames) => frames.some((frame) => frame.event === "response.output_item.done"),
          {},
          () => {},
          () => Deferred.unsafeDone(subscribed, Exit.void)
        )
      )
      yield* Deferred.await(subscribed)
      const sent = yield* post(web.url, "messages", JSON.stringify({ text: "again" }))
      const { frames } = yield* Fiber.join(live)
      assert.strictEqual(frames[0]!.id, String(last + 1))
      assert.deepStrictEqual(frames.map((frame) => Number(frame.id)), frames.map((_, index) => last + 1 + index))
      const done = decodeEvent(frames[frames.length - 1]!.data)
      assert.strictEqual(done.payload._tag === "ItemDone" && done.payload.item.id, sent.json.itemId)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis"))))

  it.live("bad requests get a 4xx that says what is wrong, and publish nothing", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const before = yield* env.lastSequence
      const cases: ReadonlyArray<readonly [string, string, number, string]> = [
        ["messages", "not json", 400, "the body is not valid JSON"],
        ["messages", "", 400, "the body is not valid JSON"],
        ["messages", JSON.stringify({ text: 42 }), 400, "text: Expected string, actual 42"],
        ["messages", JSON.stringify({ text: "   " }), 400, "text: must not be empty"],
        ["messages", JSON.stringify({}), 400, "text: is missing"],
        ["messages", JSON.stringify({ text: "hi", policy: "shout" }), 400, "policy"],
        ["messages", JSON.stringify({ text: "hi", admin: true }), 400, "admin: is unexpected"],
        ["messages", JSON.stringify(["hi"]), 400, "Expected { readonly text"],
        ["interrupt", JSON.stringify({ runId: 7 }), 400, "runId"],
        ["approvals", JSON.stringify({ callId: "call_1" }), 400, "approved: is missing"],
        ["approvals", JSON.stringify({ callId: "call_1", approved: "yes" }), 400, "approved: Expected boolean"],
        ["messages", JSON.stringify({ text: "x".repeat(WebChat.maxBodyBytes) }), 413, "larger than"]
      ]
      for (const [path, body, status, message] of cases) {
        const response = yield* post(web.url, path, body)
        assert.strictEqual(response.status, status, `${path} ${body.slice(0, 40)}`)
        assert.include(response.json.error, message, `${path} ${body.slice(0, 40)}`)
      }
      const badStreams: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
        ["events?from=abc", {}, "from must be a sequence number"],
        ["events?from=-1", {}, "from must be a sequence number"],
        ["events", { "Last-Event-ID": "yesterday" }, "Last-Event-ID must be an event sequence"]
      ]
      for (const [path, headers, message] of badStreams) {
        const response = yield* get(web.url, path, headers)
        assert.strictEqual(response.status, 400, path)
        assert.include(response.json.error, message)
      }
      // Nothing was published...
      assert.strictEqual(yield* env.lastSequence, before)
      // ...and the server still works.
      const sent = yield* post(web.url, "messages", JSON.stringify({ text: "now a real one" }))
      assert.strictEqual(sent.status, 202)
      yield* firstRunEnded(env)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis"))))

  it.live("an answer for an unknown call is refused with a 404 and visibly in the environment", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const response = yield* post(web.url, "approvals", JSON.stringify({ callId: "call_nobody", approved: true }))
      assert.strictEqual(response.status, 404)
      assert.include(response.json.error, "call_nobody")
      const refused = (yield* allEvents(env)).filter((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.deepStrictEqual(refused.map((event) => [event.author, event.payload]), [
        ["you", new Event.ApprovalAnswerRefused({ callId: "call_nobody", by: "you", reason: "unknown_call" })]
      ])
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis"))))

  it.live("two answers to one approval (two tabs clicking): the first decides, the second is refused visibly", () =>
    Effect.gen(function*() {
      const { env, sandbox, web } = yield* Chat.start
      yield* post(web.url, "messages", JSON.stringify({ text: "write a note about lunch" }))
      const requested = yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "ApprovalRequested"))
      const callId = (requested.payload as Event.ApprovalRequested).callId
      const [approve, reject] = yield* Effect.all([
        post(web.url, "approvals", JSON.stringify({ callId, approved: true })),
        post(web.url, "approvals", JSON.stringify({ callId, approved: false, reason: "changed my mind" }))
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual([approve.status, reject.status], [202, 202])
      yield* firstRunEnded(env)
      const all = yield* allEvents(env)
      const answers = all.filter((event) => event.payload._tag === "ApprovalAnswered")
      const decided = all.filter((event) => event.payload._tag === "FunctionCallApproved" || event.payload._tag === "FunctionCallRejected")
      const refused = all.filter((event) => event.payload._tag === "ApprovalAnswerRefused")
      assert.strictEqual(answers.length, 2)
      assert.strictEqual(decided.length, 1)
      assert.deepStrictEqual(refused.map((event) => event.payload), [
        new Event.ApprovalAnswerRefused({ callId, by: "you", reason: "already_answered" })
      ])
      // The first answer published is the one that counted.
      const first = answers[0]!.payload as Event.ApprovalAnswered
      assert.strictEqual(decided[0]!.payload._tag, first.approved ? "FunctionCallApproved" : "FunctionCallRejected")
      assert.strictEqual(Fs.readdirSync(sandbox).length, first.approved ? 1 : 0)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis"))))

  it.live("POST /interrupt stops the agent's run; while idle it is visibly ignored", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const idle = yield* post(web.url, "interrupt", JSON.stringify({}))
      assert.strictEqual(idle.status, 202)
      const ignored = yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "InterruptIgnored"))
      assert.strictEqual((ignored.payload as Event.InterruptIgnored).participant, "assistant")
      yield* post(web.url, "messages", JSON.stringify({ text: "talk for a while" }))
      yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "TextDelta"))
      const run = yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunStarted"))
      const runId = (run.payload as Event.RunStarted).runId
      const stopped = yield* post(web.url, "interrupt", JSON.stringify({ participant: "assistant", runId }))
      assert.strictEqual(stopped.status, 202)
      const ended = yield* firstRunEnded(env)
      assert.deepStrictEqual([ended.payload._tag === "RunEnded" && ended.payload.outcome, ended.author], ["interrupted", "assistant"])
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis"))))

  it.live("closing the server ends open event streams instead of waiting for the browsers", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { web } = yield* Chat.start.pipe(Scope.extend(scope))
      const opened = yield* Deferred.make<void>()
      const reader = yield* Effect.fork(
        readFrames(web.url, "events?from=0", () => false, {}, () => Deferred.unsafeDone(opened, Exit.void))
      )
      yield* Deferred.await(opened)
      yield* Scope.close(scope, Exit.void)
      const { ended, frames } = yield* Fiber.join(reader)
      assert.isTrue(ended)
      assert.isAtLeast(frames.length, 2)
    }).pipe(Effect.provide(Chat.layer("1 millis"))))
})
