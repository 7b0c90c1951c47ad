/**
 * The JSON-lines file journal.
 *
 * Layout: one Schema-encoded event per line, `\n`-terminated, sequences
 * contiguous and increasing. Lines are split on bytes, never on decoded text,
 * so byte offsets stay exact for truncating a torn tail and for seeking.
 *
 * State kept in memory: the first and last sequence, the size of the
 * committed content, and the byte offset of every `checkpointEvery`-th line,
 * so a read from a sequence seeks near it instead of scanning the file.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Effect, Either, Stream } from "effect"
import type { Scope } from "effect"
import type * as Event from "../Event.js"
import * as Journal from "../Journal.js"
import * as Codec from "./journalCodec.js"

const NEWLINE = 10
const chunkSize = 256 * 1024
/** One checkpoint (byte offset) per this many lines: 8 bytes per 256 events. */
const checkpointEvery = 256

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/** Splits byte chunks into lines, keeping the file offset of each line. */
class LineSplitter {
  private carry: Array<Uint8Array> = []
  private carryLength = 0
  /** File offset of the first byte not yet returned in a complete line. */
  offset: number

  constructor(offset: number) {
    this.offset = offset
  }

  /** Calls `onLine` for each complete line of the chunk (without its `\n`) until it returns false. */
  push(chunk: Uint8Array, onLine: (bytes: Uint8Array, start: number) => boolean): boolean {
    let position = 0
    while (position < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, position)
      if (newline === -1) {
        this.carry.push(chunk.subarray(position))
        this.carryLength += chunk.length - position
        return true
      }
      let bytes = chunk.subarray(position, newline)
      if (this.carryLength > 0) {
        this.carry.push(bytes)
        bytes = concat(this.carry, this.carryLength + bytes.length)
        this.carry = []
        this.carryLength = 0
      }
      const start = this.offset
      this.offset += bytes.length + 1
      position = newline + 1
      if (!onLine(bytes, start)) return false
    }
    return true
  }

  /** Bytes after the last `\n`: an unterminated line. */
  get rest(): number {
    return this.carryLength
  }
}

const concat = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  const result = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

const text = (bytes: Uint8Array): Either.Either<string, string> => {
  try {
    return Either.right(utf8.decode(bytes))
  } catch {
    return Either.left("not valid UTF-8")
  }
}

const ioError = (operation: string, path: string) => (error: PlatformError) =>
  new Journal.JournalError({ operation, detail: `${path}: ${error.message}`, cause: error })

interface State {
  /** First sequence in the file, -1 when empty. */
  first: number
  /** Last sequence in the file, -1 when empty. */
  last: number
  /** Bytes of committed content: the file ends with a complete line there. */
  size: number
  /** `checkpoints[k]` is the offset of the line of sequence `first + k * checkpointEvery`. */
  readonly checkpoints: Array<number>
}

interface Opened {
  readonly state: State
  readonly repair: Journal.Repair | undefined
}

/** Reads the whole file once: validates every line and finds a torn tail. */
const scan = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Opened, Journal.JournalError | Journal.JournalCorrupted> =>
  Effect.suspend(() => {
    const state: State = { first: -1, last: -1, size: 0, checkpoints: [] }
    const splitter = new LineSplitter(0)
    let line = 0
    // A complete line that does not decode: a torn write if nothing follows it, corruption otherwise.
    let suspect: { readonly line: number; readonly start: number; readonly detail: string } | undefined = undefined
    let failure: Journal.JournalCorrupted | undefined = undefined

    const corrupted = (at: number, detail: string, sequence?: number) =>
      new Journal.JournalCorrupted({ location: path, line: at, detail, ...(sequence === undefined ? {} : { sequence }) })

    const onLine = (bytes: Uint8Array, start: number): boolean => {
      line++
      if (suspect !== undefined) {
        failure = corrupted(suspect.line, suspect.detail)
        return false
      }
      const sequence = Either.flatMap(Either.flatMap(text(bytes), Codec.parseJson), Codec.check)
      if (Either.isLeft(sequence)) {
        suspect = { line, start, detail: sequence.left }
        return true
      }
      const current = sequence.right
      if (state.last < 0 && !Codec.isSequence(current)) {
        failure = corrupted(line, `sequence ${current} is not a non-negative integer`, current)
        return false
      }
      if (state.last >= 0 && current !== state.last + 1) {
        failure = corrupted(line, `sequence ${current} follows ${state.last}: sequences must be contiguous and increasing`, current)
        return false
      }
      if (state.first < 0) state.first = current
      if ((current - state.first) % checkpointEvery === 0) state.checkpoints.push(start)
      state.last = current
      state.size = start + bytes.length + 1
      return true
    }

    return fs.stream(path, { chunkSize }).pipe(
      Stream.mapError(ioError("open", path)),
      Stream.runForEachWhile((chunk) =>
        Effect.suspend(() => {
          splitter.push(chunk, onLine)
          return failure === undefined ? Effect.succeed(true) : Effect.fail(failure)
        })
      ),
      Effect.flatMap((): Effect.Effect<Opened, Journal.JournalCorrupted> => {
        const end = splitter.offset + splitter.rest
        if (splitter.rest > 0) {
          // The file does not end with a newline: the last write was cut short.
          if (suspect !== undefined) return Effect.fail(corrupted(suspect.line, suspect.detail))
          return Effect.succeed({ state, repair: { line: line + 1, bytes: splitter.rest } })
        }
        if (suspect !== undefined) {
          return Effect.succeed({ state, repair: { line: suspect.line, bytes: end - suspect.start } })
        }
        return Effect.succeed({ state, repair: undefined })
      })
    )
  })

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
      let length = 0
      let expected = state.last >= 0 ? state.last + 1 : batch[0]!.sequence
      const first = state.first >= 0 ? state.first : expected
      if (!Codec.isSequence(expected)) {
        return Either.left(`sequence ${expected} is not a non-negative integer`)
      }
      for (const event of batch) {
        if (event.sequence !== expected) {
          return Either.left(`sequence ${event.sequence} does not follow ${expected - 1}: sequences must be contiguous`)
        }
        const encoded = Codec.encode(event)
        if (Either.isLeft(encoded)) return Either.left(`event ${event.sequence} cannot be encoded: ${encoded.left}`)
        const bytes = utf8Encoder.encode(JSON.stringify(encoded.right) + "\n")
        if ((event.sequence - first) % checkpointEvery === 0) checkpoints.push(state.size + length)
        lines.push(bytes)
        length += bytes.length
        expected++
      }
      return Either.right({ bytes: concat(lines, length), checkpoints, first, last: expected - 1 })
    }

    const append = (batch: ReadonlyArray<Event.Event>): Effect.Effect<void, Journal.JournalError> =>
      batch.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.uninterruptible(Effect.suspend(() => {
          if (broken !== undefined) return Effect.fail(broken)
          const encoded = encodeBatch(batch)
          if (Either.isLeft(encoded)) {
            return Effect.fail(new Journal.JournalError({ operation: "append", detail: `${path}: ${encoded.left}` }))
          }
          const { bytes, checkpoints, first, last } = encoded.right
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
                state.first = first
                state.last = last
                state.size += bytes.length
                for (const checkpoint of checkpoints) state.checkpoints.push(checkpoint)
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
        let expected = first + checkpoint * checkpointEvery
        let done = false
        let failure: Journal.JournalCorrupted | undefined = undefined

        const decodeChunk = (chunk: Uint8Array) =>
          Effect.suspend(() => {
            const events: Array<Event.Event> = []
            splitter.push(chunk, (bytes) => {
              const line = expected - first + 1
              const decoded = Either.flatMap(Either.flatMap(text(bytes), Codec.parseJson), Codec.decode)
              if (Either.isLeft(decoded)) {
                failure = new Journal.JournalCorrupted({ location: path, line, detail: decoded.left })
                return false
              }
              const event = decoded.right
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
              if (event.sequence >= from) events.push(event)
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

        return fs.stream(path, { offset, bytesToRead: size - offset, chunkSize }).pipe(
          Stream.mapError(ioError("read", path)),
          Stream.mapEffect(decodeChunk),
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
