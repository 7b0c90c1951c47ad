import { assert, describe, it } from "@effect/vitest"
import { Environment, Event } from "@chorus/core"
import { Conversations, Routes } from "@chorus/server"
import { Effect, Layer, Option } from "effect"
import { joinAgent, readSse, served } from "./support/fixture.js"
import type { SseFrame } from "./support/fixture.js"

const post = (url: string, body: unknown, headers?: Record<string, string>) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

interface SnapshotJson {
  readonly journal: string
  readonly last_sequence: number
  readonly items: ReadonlyArray<{ readonly item: { readonly type: string; readonly content?: ReadonlyArray<{ readonly text?: string }> } }>
  readonly participants: ReadonlyArray<{ readonly id: string; readonly model: string | null }>
}

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const answered = (frames: ReadonlyArray<SseFrame>) =>
  frames.some((f) => f.event === "chorus.run.ended")

describe("@chorus/server routes over HTTP", () => {
  it.live("GET /events streams OpenResponses payloads with journal-scoped ids", () =>
    Effect.gen(function*() {
      const { url } = yield* served()
      const events = yield* promise(() => fetch(`${url}/events`))
      assert.strictEqual(events.headers.get("content-type"), "text/event-stream")
      yield* promise(() => post(`${url}/messages`, { text: "hi" }))
      const frames = yield* promise(() => readSse(events, answered))
      const opened = JSON.parse(frames[0]!.data)
      assert.strictEqual(opened.type, "chorus.stream.opened")
      const journal: string = opened.journal
      const data = frames.slice(1).map((f) => ({ ...f, json: JSON.parse(f.data) }))
      for (const f of data) {
        assert.strictEqual(f.json.type, f.event)
        assert.strictEqual(f.id, `${journal}.${f.json.sequence_number}`)
      }
      const added = data.find((f) => f.event === "response.output_item.added" && f.json.item.role === "assistant")!
      assert.deepStrictEqual(added.json.item.type, "message")
      assert.strictEqual(added.json.item.status, "in_progress")
      const delta = data.find((f) => f.event === "response.output_text.delta")!.json
      assert.deepStrictEqual(Object.keys(delta).sort(), ["content_index", "delta", "item_id", "logprobs", "output_index", "sequence_number", "type"])
      assert.strictEqual(delta.item_id, added.json.item.id)
      assert.strictEqual(delta.output_index, added.json.output_index)
      const done = data.find((f) => f.event === "response.output_item.done" && f.json.item.role === "assistant")!.json
      assert.deepStrictEqual(done.item.content, [{ type: "output_text", text: "Hello back, friend.", annotations: [] }])
      assert.isTrue(data.some((f) => f.event === "response.reasoning_summary_text.delta"))
      assert.isTrue(data.some((f) => f.event === "chorus.run.started" && f.json.participant === "assistant"))
      assert.isTrue(data.every((f) => f.event.startsWith("response.") || f.event.startsWith("chorus.")))
    }).pipe(Effect.scoped))

  it.live("Last-Event-ID resumes right after the event; another journal's id resets the client", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      yield* promise(() => post(`${url}/messages`, { text: "hi" }))
      yield* env.waitFor((e) => e.payload._tag === "RunEnded")
      const all = yield* promise(async () => readSse(await fetch(`${url}/events`), (frames) => frames.some((f) => f.event === "chorus.run.ended")))
      const middle = all[10]!
      const resumed = yield* promise(async () =>
        readSse(await fetch(`${url}/events`, { headers: { "last-event-id": middle.id! } }), (frames) => frames.length >= 3)
      )
      assert.strictEqual(JSON.parse(resumed[0]!.data).type, "chorus.stream.opened")
      assert.strictEqual(resumed[1]!.id, all[11]!.id)
      assert.strictEqual(resumed[1]!.data, all[11]!.data)
      const reset = yield* promise(async () =>
        readSse(await fetch(`${url}/events`, { headers: { "last-event-id": "someOtherJournal.40" } }), (frames) => frames.length >= 3)
      )
      assert.strictEqual(reset[0]!.event, "chorus.stream.reset")
      assert.strictEqual(JSON.parse(reset[0]!.data).previous_journal, "someOtherJournal")
      assert.strictEqual(JSON.parse(reset[2]!.data).sequence_number, 0)
      const bad = yield* promise(() => fetch(`${url}/events`, { headers: { "last-event-id": "<script>" } }))
      assert.strictEqual(bad.status, 400)
    }).pipe(Effect.scoped))

  it.live("GET /snapshot folds the transcript and names where the stream resumes", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      yield* promise(() => post(`${url}/messages`, { text: "hi" }))
      yield* env.waitFor((e) => e.payload._tag === "RunEnded")
      const snapshot = yield* promise(async () => (await fetch(`${url}/snapshot`)).json() as Promise<SnapshotJson>)
      assert.strictEqual(snapshot.last_sequence, yield* env.lastSequence)
      const texts = snapshot.items.map((entry) =>
        entry.item.type === "message" ? entry.item.content!.map((part) => part.text).join("") : entry.item.type)
      assert.deepStrictEqual(texts, ["hi", "reasoning", "Hello back, friend."])
      assert.strictEqual(snapshot.participants.find((p) => p.id === "assistant")?.model, "scripted")
      const opened = yield* promise(async () => readSse(await fetch(`${url}/events`), (frames) => frames.length >= 1))
      assert.strictEqual(JSON.parse(opened[0]!.data).journal, snapshot.journal)
    }).pipe(Effect.scoped))

  it.live("garbage bodies get a 4xx and publish nothing", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const before = yield* env.lastSequence
      const cases: ReadonlyArray<readonly [string, string, number, Record<string, string>?]> = [
        ["/messages", "{", 400],
        ["/messages", "null", 400],
        ["/messages", JSON.stringify({ text: 3 }), 400],
        ["/messages", JSON.stringify({ text: "   " }), 400],
        ["/messages", JSON.stringify({ text: "hi", policy: "shout" }), 400],
        ["/messages", JSON.stringify({ text: "hi", extra: true }), 400],
        ["/messages", "text=hi", 415, { "content-type": "application/x-www-form-urlencoded" }],
        ["/messages", JSON.stringify({ text: "x".repeat(70_000) }), 413],
        ["/approvals", JSON.stringify({ callId: "nope", approved: true }), 404],
        ["/approvals", JSON.stringify({ callId: "nope", approved: "yes" }), 400],
        ["/approvals", "[]", 400],
        ["/interrupt", "{\"participant\": 1}", 400],
        ["/clarifications", JSON.stringify({ callId: "q1", answer: "yes" }), 404],
        ["/clarifications", JSON.stringify({ callId: "q1" }), 400],
        ["/elicitations", JSON.stringify({}), 400],
        ["/elicitations", JSON.stringify({ elicitationId: "el_nope", action: "accept" }), 404],
        ["/elicitations", JSON.stringify({ elicitationId: "el_1", action: "maybe" }), 400],
        ["/chat", JSON.stringify({ messages: [] }), 400],
        ["/chat", JSON.stringify({ messages: [{ id: "1", role: "user", parts: [{ type: "text", text: "" }] }] }), 400],
        ["/v1/responses", JSON.stringify({ model: "x" }), 400],
        ["/v1/responses", JSON.stringify({ input: [{ role: "user", content: 42 }] }), 400]
      ]
      for (const [path, body, status, headers] of cases) {
        const response = yield* promise(() => post(`${url}${path}`, body, { authorization: "Bearer sk-secret-key-123", ...headers }))
        const text = yield* promise(() => response.text())
        assert.strictEqual(response.status, status, `${path} ${body.slice(0, 60)} → ${text}`)
        assert.isTrue(text.includes("error"), text)
        assert.isFalse(text.includes("sk-secret"), text)
      }
      assert.strictEqual(yield* env.lastSequence, before)
    }).pipe(Effect.scoped))

  it.live("an approval is answered once, with its reason; a second answer is a 409 and publishes nothing", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      yield* promise(() => post(`${url}/messages`, { text: "write a note" }))
      const requested = yield* env.waitFor((e): e is Event.Event & { payload: Event.ApprovalRequested } =>
        e.payload._tag === "ApprovalRequested")
      const first = yield* promise(() => post(`${url}/approvals`, { callId: requested.payload.callId, approved: false, reason: "not now" }))
      assert.strictEqual(first.status, 202)
      const rejected = yield* env.waitFor((e) => e.payload._tag === "FunctionCallRejected")
      assert.strictEqual((rejected.payload as Event.FunctionCallRejected).reason, "not now")
      yield* env.waitFor((e) => e.payload._tag === "RunEnded")
      const before = yield* env.lastSequence
      const second = yield* promise(() => post(`${url}/approvals`, { callId: requested.payload.callId, approved: true }))
      assert.strictEqual(second.status, 409)
      assert.strictEqual(yield* env.lastSequence, before)
    }).pipe(Effect.scoped))

  it.live("the speaker hook decides who a request speaks for; a refused request publishes nothing", () =>
    Effect.gen(function*() {
      const speaker: Routes.Speaker = (request) =>
        request.headers["authorization"] === "Bearer alice-token"
          ? Effect.succeed("alice")
          : Effect.fail(new Routes.Refused({ status: 401, detail: "who are you?" }))
      const { url, env } = yield* served({ speaker })
      const before = yield* env.lastSequence
      const refused = yield* promise(() => post(`${url}/messages`, { text: "hi" }))
      assert.strictEqual(refused.status, 401)
      assert.strictEqual(yield* env.lastSequence, before)
      const ok = yield* promise(() => post(`${url}/messages`, { text: "hi" }, { authorization: "Bearer alice-token" }))
      assert.strictEqual(ok.status, 202)
      const said = yield* env.waitFor((e) => e.payload._tag === "ItemDone" && e.payload.item._tag === "UserMessage")
      assert.strictEqual(said.author, "alice")
    }).pipe(Effect.scoped))

  it.live("POST /interrupt stops the running agent's run", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served({ latency: "20 millis" })
      yield* promise(() => post(`${url}/messages`, { text: "be slow" }))
      yield* env.waitFor((e) => e.payload._tag === "TextDelta")
      const response = yield* promise(() => post(`${url}/interrupt`, {}))
      assert.strictEqual(response.status, 202)
      const ended = yield* env.waitFor((e) => e.payload._tag === "RunEnded")
      assert.strictEqual((ended.payload as Event.RunEnded).outcome, "interrupted")
    }).pipe(Effect.scoped))

  it.live("one environment per conversation: the path names it, an unknown one is a 404", () =>
    Effect.gen(function*() {
      const open = new Map<string, Environment.Service>()
      for (const id of ["alpha", "beta"]) {
        const context = yield* Layer.build(Environment.layerMemory())
        open.set(id, yield* joinAgent().pipe(Effect.provide(context)))
      }
      const server = yield* Routes.serve(Routes.router({
        conversations: Conversations.keyed((id) => Effect.succeed(Option.fromNullable(open.get(id))))
      }))
      const base = server.url.replace(/\/$/, "")
      const sent = yield* promise(() => post(`${base}/conversations/beta/messages`, { text: "hi beta" }))
      assert.strictEqual(sent.status, 202)
      const said = yield* open.get("beta")!.waitFor((e) => e.payload._tag === "ItemDone" && e.payload.item._tag === "UserMessage")
      assert.strictEqual(said.author, "you")
      const alpha = yield* promise(async () => (await fetch(`${base}/conversations/alpha/snapshot`)).json() as Promise<SnapshotJson>)
      assert.deepStrictEqual(alpha.items, [])
      const missing = yield* promise(() => post(`${base}/conversations/gamma/messages`, { text: "hi" }))
      assert.strictEqual(missing.status, 404)
    }).pipe(Effect.scoped))

  it.live("POST /clarifications answers a question an agent asked, as the speaker", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      yield* env.publish("assistant", new Event.ClarificationRequested({ callId: "call_q", question: "Which folder?" }))
      const response = yield* promise(() => post(`${url}/clarifications`, { callId: "call_q", answer: "the notes folder" }))
      assert.strictEqual(response.status, 202)
      const answer = yield* env.waitFor((e) => e.payload._tag === "ClarificationAnswered")
      assert.strictEqual(answer.author, "you")
      assert.strictEqual((answer.payload as Event.ClarificationAnswered).answer, "the notes folder")
    }).pipe(Effect.scoped))

  it.live("POST /elicitations: content checked against the form before anything is published, then answered as the speaker", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      yield* env.publish("mcp", new Event.ElicitationRequested({
        elicitationId: "el_1",
        callId: null,
        server: "files",
        message: "Which folder?",
        requestedSchema: { type: "object", properties: { folder: { type: "string" } }, required: ["folder"] }
      }))
      const before = yield* env.lastSequence
      const invalid = yield* promise(() => post(`${url}/elicitations`, { elicitationId: "el_1", action: "accept", content: { folder: 3 } }))
      assert.strictEqual(invalid.status, 400)
      assert.include(yield* promise(() => invalid.text()), "folder")
      assert.strictEqual(yield* env.lastSequence, before)
      const ok = yield* promise(() => post(`${url}/elicitations`, { elicitationId: "el_1", action: "accept", content: { folder: "notes" } }))
      assert.strictEqual(ok.status, 202)
      const answered = yield* env.waitFor((e) => e.payload._tag === "ElicitationAnswered")
      assert.strictEqual(answered.author, "you")
      assert.deepStrictEqual((answered.payload as Event.ElicitationAnswered).content, { folder: "notes" })
    }).pipe(Effect.scoped))
})
