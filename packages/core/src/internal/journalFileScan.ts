/**
 * Opening a file journal: one pass over every byte that checks the header, the checksum chain (format 2) or each
 * line's shape (older files), contiguous sequences, and finds a torn tail. It builds the state `journalFile.ts`
 * keeps: first and last sequence, committed size, and a checkpoint (offset and chain) every `checkpointEvery` lines.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Either, Option, Stream } from "effect"
import { Buffer } from "node:buffer"
import * as Journal from "../Journal.js"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"
import { checksumHolds, hasChecksum, headerPrefix, leadingSequence, LineSplitter, parseHeader, startsWith, text } from "./journalFileFormat.js"

export const chunkSize = 256 * 1024
/** One checkpoint (byte offset) per this many lines: 8 bytes per 256 events. */
export const checkpointEvery = 256

export const ioError = (operation: string, path: string) => (error: PlatformError) =>
  new Journal.JournalError({ operation, detail: `${path}: ${error.message}`, cause: error })

/**
 * The bytes of the file from `offset`, at most `length` of them (to its end
 * when it is shorter), in chunks read into one buffer: `use` gets each chunk
 * as it is read and must be done with its bytes when its effect ends (the
 * next read overwrites them). The stream holds what `use` returns.
 *
 * One buffer for the whole pass rather than one per chunk (a file system
 * stream allocates each chunk afresh): most of a replay's I/O cost was those
 * allocations (faulting fresh memory in), not the reads. It is a Node
 * `Buffer`, whose `indexOf` (the line splitter's newline search) is native.
 */
export const readChunks = <A, E>(
  fs: FileSystem.FileSystem,
  path: string,
  operation: string,
  offset: number,
  length: number,
  use: (bytes: Uint8Array) => Effect.Effect<A, E>
): Stream.Stream<A, E | Journal.JournalError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const file = yield* fs.open(path, { flag: "r" }).pipe(Effect.mapError(ioError(operation, path)))
    if (offset > 0) yield* file.seek(offset, "start")
    const buffer = Buffer.allocUnsafeSlow(Math.max(1, Math.min(chunkSize, length)))
    let remaining = length
    const next: Effect.Effect<A, Option.Option<E | Journal.JournalError>> = Effect.suspend(() => {
      if (remaining <= 0) return Effect.fail(Option.none())
      return file.read(remaining < buffer.length ? buffer.subarray(0, remaining) : buffer).pipe(
        Effect.mapError((error) => Option.some(ioError(operation, path)(error))),
        Effect.flatMap((read) => {
          const size = Number(read)
          // The end of the file.
          if (size === 0) return Effect.fail(Option.none())
          remaining -= size
          return Effect.mapError(use(size === buffer.length ? buffer : buffer.subarray(0, size)), Option.some)
        })
      )
    })
    return Stream.repeatEffectOption(next)
  }))

export interface State {
  /** `checksummed` (format 2, with a header once written) or `legacy` (an older file: no header, no checksums). */
  format: "checksummed" | "legacy"
  /** The start recorded in the header, -1 when there is no header yet. */
  start: number
  /** The checksum chain: CRC of the last line (the header's, before any event). */
  chain: number
  /** Lines before the first event: 1 with a header. */
  headerLines: number
  /** First sequence in the file, -1 when empty. */
  first: number
  /** Last sequence in the file, -1 when empty. */
  last: number
  /** Bytes of committed content: the file ends with a complete line there. */
  size: number
  /** `checkpoints[k]` is the offset of the line of sequence `first + k * checkpointEvery`. */
  readonly checkpoints: Array<number>
  /** `chains[k]`: the checksum chain just before that line (format 2), so a read checks lines from there. */
  readonly chains: Array<number>
}

export interface Opened {
  readonly state: State
  readonly repair: Journal.Repair | undefined
}

/** Reads the whole file once: validates every line and finds a torn tail. */
export const scan = (fs: FileSystem.FileSystem, path: string): Effect.Effect<Opened, Journal.JournalError | Journal.JournalCorrupted> =>
  Effect.suspend(() => {
    const state: State = { format: "checksummed", start: -1, chain: 0, headerLines: 0, first: -1, last: -1, size: 0, checkpoints: [], chains: [] }
    const splitter = new LineSplitter(0)
    let line = 0
    // A complete line that does not decode: a torn write if nothing follows it, corruption otherwise.
    let suspect: { readonly line: number; readonly start: number; readonly detail: string } | undefined = undefined
    let failure: Journal.JournalCorrupted | undefined = undefined

    const corrupted = (at: number, detail: string, sequence?: number) =>
      new Journal.JournalCorrupted({ location: path, line: at, detail, ...(sequence === undefined ? {} : { sequence }) })

    /** The sequence of the line `bytes[begin, end)`, checking its checksum (format 2) or its shape (older files). */
    const sequenceOf = (
      bytes: Uint8Array,
      begin: number,
      end: number
    ): Either.Either<number, { readonly detail: string; readonly fatal: boolean }> => {
      if (state.format === "legacy") {
        if (hasChecksum(bytes, begin, end)) {
          return Either.left({ detail: "a checksummed line in a journal without its header: line 1 (the header) is missing", fatal: true })
        }
        return Either.mapLeft(
          Either.flatMap(Either.flatMap(text(bytes, begin, end), Codec.parseJson), Codec.check),
          (detail) => ({ detail, fatal: false })
        )
      }
      if (!hasChecksum(bytes, begin, end)) return Either.left({ detail: "the line has no checksum", fatal: true })
      const crc = checksumHolds(bytes, state.chain, begin, end)
      if (crc === undefined) {
        return Either.left({ detail: "checksum mismatch: the line (or one before it) was changed after it was written", fatal: true })
      }
      state.chain = crc
      const sequence = leadingSequence(bytes, begin, end)
      if (sequence !== undefined) return Either.right(sequence)
      return Either.mapLeft(
        Either.flatMap(Either.flatMap(text(bytes, begin, end), Codec.parseJson), Codec.check),
        (detail) => ({ detail, fatal: true })
      )
    }

    const onLine = (bytes: Uint8Array, begin: number, end: number, start: number): boolean => {
      line++
      const length = end - begin
      if (suspect !== undefined) {
        failure = corrupted(suspect.line, suspect.detail)
        return false
      }
      if (line === 1) {
        if (startsWith(bytes, headerPrefix, begin, end)) {
          const headerBytes = bytes.subarray(begin, end)
          const header = parseHeader(headerBytes)
          if (Either.isLeft(header)) {
            suspect = { line, start, detail: `bad header: ${header.left}` }
            return true
          }
          state.start = header.right
          state.chain = Checksum.crc32(headerBytes, 0)
          state.headerLines = 1
          state.size = start + length + 1
          return true
        }
        state.format = "legacy"
      }
      const chainBefore = state.chain
      // The common case first: a checksummed line whose checksum holds and whose sequence is the next one.
      let current: number
      const quick = state.format === "checksummed" && state.last >= 0 ? checksumHolds(bytes, chainBefore, begin, end) : undefined
      const quickSequence = quick === undefined ? undefined : leadingSequence(bytes, begin, end)
      if (quick !== undefined && quickSequence === state.last + 1) {
        state.chain = quick
        current = quickSequence
      } else {
        const sequence = sequenceOf(bytes, begin, end)
        if (Either.isLeft(sequence)) {
          if (sequence.left.fatal) {
            failure = corrupted(line, sequence.left.detail, leadingSequence(bytes, begin, end))
            return false
          }
          suspect = { line, start, detail: sequence.left.detail }
          return true
        }
        current = sequence.right
      }
      if (state.format === "checksummed" && state.headerLines === 0) {
        failure = corrupted(line, "a checksummed line before the header: line 1 (the header) is missing", current)
        return false
      }
      if (state.last < 0 && state.format === "checksummed" && current !== state.start) {
        failure = corrupted(line, `the journal starts at sequence ${state.start} but its first event is ${current}: events are missing`, current)
        return false
      }
      if (state.last < 0 && !Codec.isSequence(current)) {
        failure = corrupted(line, `sequence ${current} is not a non-negative integer`, current)
        return false
      }
      if (state.last >= 0 && current !== state.last + 1) {
        failure = corrupted(line, `sequence ${current} follows ${state.last}: sequences must be contiguous and increasing`, current)
        return false
      }
      if (state.first < 0) state.first = current
      if ((current - state.first) % checkpointEvery === 0) {
        state.checkpoints.push(start)
        state.chains.push(chainBefore)
      }
      state.last = current
      state.size = start + length + 1
      return true
    }

    const pass = readChunks(fs, path, "open", 0, Number.POSITIVE_INFINITY, (chunk) =>
      Effect.suspend(() => {
        splitter.push(chunk, onLine)
        return failure === undefined ? Effect.void : Effect.fail(failure)
      }))
    return Stream.runDrain(pass).pipe(
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

