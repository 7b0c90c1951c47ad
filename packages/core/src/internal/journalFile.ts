/**
 * The JSON-lines file journal.
 *
 * Layout: one Schema-encoded event per line, `\n`-terminated, sequences
 * contiguous and increasing. Lines are split on bytes, never on decoded text,
 * so byte offsets stay exact for truncating a torn tail and for seeking.
 *
 * ## Integrity (format 2, every journal this code creates)
 * Line 1 is a header, `{"chorus.journal":2,"start":S}`: the sequence the
 * journal starts at, so a missing first event is caught. Every event line
 * ends with a checksum field, `…,"crc":"hhhhhhhh"}`: the CRC-32 of the line
 * as it would be without that field, continued from the previous line's (the
 * header's for the first): a hash chain. Opening checks the chain over every
 * byte, so a changed byte is `JournalCorrupted` naming its line even when the
 * line still decodes; a removed or reordered line breaks the chain too. A
 * line whose checksum holds was written by this code from a valid event, so
 * opening only reads its sequence (no Schema validation); reads decode it
 * without re-validation: the envelope read off the bytes, a delta's payload
 * too (`journalFileDelta.ts`), any other payload by `JSON.parse` of the
 * payload alone and the trusted decoder (`EnvelopeReader`; a line laid out
 * otherwise is parsed whole). The chain is computed without a call or a
 * view per line (`journalChecksum.ts`). Open and read pass over the file
 * through one reused buffer (`readChunks`).
 * Reads check the chain again over every line they pass (the file may have
 * changed since it was opened). A read with `kinds` reads a line's kind off
 * its end once its checksum holds (the encoder writes the payload last, its
 * `_tag` last in it) and decodes only lines of those kinds; a line whose
 * end does not look like that is decoded and filtered.
 * Only an unterminated last line is a torn write (cut off and reported); a
 * complete line that fails its checksum is corruption.
 *
 * ## Older journals (no header, no checksums)
 * A file whose first line is an event opens as before: every line is
 * validated on open, a bad last line is cut off as torn, and new events are
 * appended in the same, unchecked format (mixing formats would leave the
 * older lines unprotected while looking protected). To protect an older
 * journal, copy its events into a new file journal. A checksummed line in a
 * file without a header means the header was lost: `JournalCorrupted`.
 *
 * State kept in memory: the first and last sequence, the size of the
 * committed content, and the byte offset of every `checkpointEvery`-th line,
 * so a read from a sequence seeks near it instead of scanning the file.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Effect, Either, Stream } from "effect"
import type { Scope } from "effect"
import type * as Event from "../Event.js"
import * as Journal from "../Journal.js"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"
import {
  ascii,
  checksumHolds,
  concat,
  EnvelopeReader,
  headerLine,
  leadingSequence,
  LineSplitter,
  NEWLINE,
  textOrUndefined,
  trailingTag
} from "./journalFileFormat.js"
import { checkpointEvery, ioError, readChunks, scan } from "./journalFileScan.js"

const utf8Encoder = new TextEncoder()

/**
 * The event on the line `bytes[begin, end)`, or why it is none. With a
 * reader (`trusted`: its checksum holds, this code wrote it) it is decoded
 * without re-validation.
 */
const decodeLine = (
  bytes: Uint8Array,
  begin: number,
  end: number,
  trusted: EnvelopeReader | undefined
): Event.Event | string => {
  const event = trusted?.event(bytes, begin, end)
  if (event !== undefined) return event
  const json = textOrUndefined(bytes, begin, end)
  if (json === undefined) return "not valid UTF-8"
  return Codec.eventFromJson(json, trusted !== undefined)
}

/** Opens the journal file (creating it when missing), repairing a torn tail. */
export const make = (
  path: string,
  durability: Journal.Durability
): Effect.Effect<Journal.Service, Journal.JournalError | Journal.JournalCorrupted, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Opening for append creates a missing file; it also holds the descriptor every batch is written through.
    const file = yield* fs.open(path, { flag: "a" }).pipe(Effect.mapError(ioError("open", path)))
    const { repair, state } = yield* scan(fs, path)
    if (repair !== undefined) {
      yield* file.truncate(state.size).pipe(
        Effect.zipRight(file.sync),
        Effect.mapError(ioError("repair", path))
      )
      yield* Effect.logWarning(`journal ${path}: cut off a torn line ${repair.line} (${repair.bytes} bytes)`)
    }
    if (durability === "none") {
      // A clean shutdown still leaves everything on disk.
      yield* Effect.addFinalizer(() => Effect.ignore(file.sync))
    }

    const lock = yield* Effect.makeSemaphore(1)
    // Set when a failed write could not be undone: the file may end with a partial line.
    let broken: Journal.JournalError | undefined = undefined

    const encodeBatch = (batch: ReadonlyArray<Event.Event>) => {
      const lines: Array<Uint8Array> = []
      const checkpoints: Array<number> = []
      const chains: Array<number> = []
      let length = 0
      let expected = state.last >= 0 ? state.last + 1 : state.start >= 0 ? state.start : batch[0]!.sequence
      const first = state.first >= 0 ? state.first : expected
      if (!Codec.isSequence(expected)) {
        return Either.left(`sequence ${expected} is not a non-negative integer`)
      }
      const checksummed = state.format === "checksummed"
      let chain = state.chain
      let headerLines = state.headerLines
      if (checksummed && headerLines === 0) {
        const header = headerLine(expected)
        const bytes = new Uint8Array(header.length + 1)
        bytes.set(header)
        bytes[header.length] = NEWLINE
        chain = Checksum.crc32(header, 0)
        headerLines = 1
        lines.push(bytes)
        length += bytes.length
      }
      for (const event of batch) {
        if (event.sequence !== expected) {
          return Either.left(`sequence ${event.sequence} does not follow ${expected - 1}: sequences must be contiguous`)
        }
        const encoded = Codec.encodeJson(event)
        if (Either.isLeft(encoded)) return Either.left(`event ${event.sequence} cannot be encoded: ${encoded.left}`)
        const json = utf8Encoder.encode(encoded.right)
        let bytes: Uint8Array
        const chainBefore = chain
        if (checksummed) {
          chain = Checksum.crc32(json, chain)
          const suffix = ascii(`,"crc":"${Checksum.hex(chain)}"}\n`)
          bytes = new Uint8Array(json.length - 1 + suffix.length)
          bytes.set(json.subarray(0, json.length - 1))
          bytes.set(suffix, json.length - 1)
        } else {
          bytes = new Uint8Array(json.length + 1)
          bytes.set(json)
          bytes[json.length] = NEWLINE
        }
        if ((event.sequence - first) % checkpointEvery === 0) {
          checkpoints.push(state.size + length)
          chains.push(chainBefore)
        }
        lines.push(bytes)
        length += bytes.length
        expected++
      }
      return Either.right({ bytes: concat(lines, length), checkpoints, chains, first, last: expected - 1, chain, headerLines })
    }

    const append = (batch: ReadonlyArray<Event.Event>): Effect.Effect<void, Journal.JournalError> =>
      batch.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.uninterruptible(Effect.suspend(() => {
          if (broken !== undefined) return Effect.fail(broken)
          const encoded = encodeBatch(batch)
          if (Either.isLeft(encoded)) {
            return Effect.fail(new Journal.JournalError({ operation: "append", detail: `${path}: ${encoded.left}` }))
          }
          const { bytes, chain, chains, checkpoints, first, headerLines, last } = encoded.right
          const write = durability === "fsync" ? Effect.zipRight(file.writeAll(bytes), file.sync) : file.writeAll(bytes)
          return write.pipe(
            Effect.mapError(ioError("append", path)),
            Effect.tapError((error) =>
              // Cut what may have reached the file, so the next batch does not follow a partial line.
              file.truncate(state.size).pipe(
                Effect.catchAll(() =>
                  Effect.sync(() => {
                    broken = new Journal.JournalError({
                      operation: "append",
                      detail: `${path}: an earlier write failed and could not be undone; reopen the journal to repair it`,
                      cause: error
                    })
                  })
                )
              )
            ),
            Effect.tap(() =>
              Effect.sync(() => {
                if (state.headerLines === 0 && headerLines === 1) state.start = first
                state.headerLines = headerLines
                state.chain = chain
                state.first = first
                state.last = last
                state.size += bytes.length
                for (const checkpoint of checkpoints) state.checkpoints.push(checkpoint)
                for (const value of chains) state.chains.push(value)
              })
            )
          )
        }))
      )

    const read: Journal.Service["read"] = (options) =>
      Stream.suspend(() => {
        // A snapshot of what is committed now: a batch being written is not read half-way.
        const { first, last, size } = state
        const from = Math.max(options?.from ?? first, first)
        const to = Math.min(options?.to ?? last, last)
        if (last < 0 || from > to) return Stream.empty
        const checkpoint = Math.floor((from - first) / checkpointEvery)
        const offset = state.checkpoints[checkpoint]
        if (offset === undefined) {
          return Stream.die(new Error(`journal ${path}: no checkpoint for sequence ${from}`))
        }
        const splitter = new LineSplitter(offset)
        const checksummed = state.format === "checksummed"
        const kinds = options?.kinds === undefined ? undefined : new Set<string>(options.kinds)
        let chain = state.chains[checkpoint] ?? 0
        const envelopes = new EnvelopeReader()
        let expected = first + checkpoint * checkpointEvery
        let done = false
        let failure: Journal.JournalCorrupted | undefined = undefined

        /** Passes a line of a kind not asked for: its sequence must still be the next one. */
        const skip = (sequence: number | undefined, line: number): boolean => {
          if (sequence !== expected) {
            failure = new Journal.JournalCorrupted({
              location: path,
              line,
              ...(sequence === undefined ? {} : { sequence }),
              detail: `expected sequence ${expected}: the file changed after it was opened`
            })
            return false
          }
          expected++
          if (sequence >= to) {
            done = true
            return false
          }
          return true
        }

        const decodeChunk = (chunk: Uint8Array) =>
          Effect.suspend(() => {
            const events: Array<Event.Event> = []
            splitter.push(chunk, (bytes, begin, end) => {
              const line = expected - first + 1 + state.headerLines
              // A line whose checksum still holds is what this code wrote: decoded without re-validation.
              let decoded: Event.Event | string
              if (checksummed) {
                const crc = checksumHolds(bytes, chain, begin, end)
                if (crc === undefined) {
                  decoded = "checksum mismatch: the file changed after it was opened"
                } else {
                  chain = crc
                  const tag = kinds === undefined ? undefined : trailingTag(bytes, begin, end)
                  if (tag !== undefined && !kinds!.has(tag)) {
                    // Of a kind nobody asked for: checked (the chain above, its sequence below), not decoded.
                    return skip(leadingSequence(bytes, begin, end), line)
                  }
                  decoded = decodeLine(bytes, begin, end, envelopes)
                }
              } else {
                decoded = decodeLine(bytes, begin, end, undefined)
              }
              if (typeof decoded === "string") {
                failure = new Journal.JournalCorrupted({ location: path, line, detail: decoded })
                return false
              }
              const event = decoded
              if (event.sequence !== expected) {
                failure = new Journal.JournalCorrupted({
                  location: path,
                  line,
                  sequence: event.sequence,
                  detail: `expected sequence ${expected}: the file changed after it was opened`
                })
                return false
              }
              expected++
              if (event.sequence >= from && (kinds === undefined || kinds.has(event.payload._tag))) events.push(event)
              if (event.sequence >= to) {
                done = true
                return false
              }
              return true
            })
            if (failure !== undefined) return Effect.fail(failure)
            return Effect.succeed(Chunk.unsafeFromArray(events))
          })

        const ended = Effect.suspend(() =>
          done ? Effect.void : Effect.fail(
            new Journal.JournalError({
              operation: "read",
              detail: `${path}: the file ended before sequence ${to}: it changed after it was opened`
            })
          )
        )

        return readChunks(fs, path, "read", offset, size - offset, decodeChunk).pipe(
          // Evaluated right after the chunk that reached `to` was decoded: stops reading the file there.
          Stream.takeUntil(() => done),
          Stream.flattenChunks,
          Stream.concat(Stream.drain(Stream.fromEffect(ended)))
        )
      })

    return {
      append,
      read,
      lastSequence: Effect.sync(() => state.last),
      repairs: repair === undefined ? [] : [repair]
    } satisfies Journal.Service
  })
