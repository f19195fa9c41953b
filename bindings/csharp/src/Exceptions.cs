// The exceptions of Kahuna.Client: one per status code, all derived from KahunaException, which
// carries the stable StatusCode. "Not found" and "condition not met" are results, never
// exceptions.

using System;

namespace Kahuna
{
    /// <summary>A failed Kahuna call: a stable <see cref="StatusCode"/> and a message naming the problem.</summary>
    public class KahunaException : Exception
    {
        /// <summary>An exception with this code and message.</summary>
        public KahunaException(StatusCode code, string message) : base(message)
        {
            Code = code;
        }

        /// <summary>The status code (the same number in C, Python and on the wire).</summary>
        public StatusCode Code { get; }

        /// <summary>True when repeating the same call may succeed (MustRetry, Unavailable): nothing was applied.</summary>
        public bool IsRetriable => Code == StatusCode.MustRetry || Code == StatusCode.Unavailable;

        /// <summary>The exception of the subclass that stands for <paramref name="code"/>.</summary>
        public static KahunaException FromCode(StatusCode code, string message)
        {
            switch (code)
            {
                case StatusCode.InvalidInput: return new InvalidInputException(message);
                case StatusCode.NotFound: return new NotFoundException(message);
                case StatusCode.Aborted: return new AbortedException(message);
                case StatusCode.MustRetry: return new MustRetryException(message);
                case StatusCode.Unavailable: return new UnavailableException(message);
                case StatusCode.Timeout: return new KahunaTimeoutException(message);
                case StatusCode.LockDoesNotExist: return new LockDoesNotExistException(message);
                case StatusCode.InvalidOwner: return new InvalidOwnerException(message);
                case StatusCode.Internal: return new InternalException(message);
                case StatusCode.ResourceExhausted: return new ResourceExhaustedException(message);
                default: return new KahunaException(code, message);
            }
        }
    }

    /// <summary>A bad argument; the message names it. Nothing was sent or written.</summary>
    public sealed class InvalidInputException : KahunaException
    {
        /// <summary>An InvalidInput failure.</summary>
        public InvalidInputException(string message) : base(StatusCode.InvalidInput, message) { }
    }

    /// <summary>The target does not exist (where an error is due rather than a result).</summary>
    public sealed class NotFoundException : KahunaException
    {
        /// <summary>A NotFound failure.</summary>
        public NotFoundException(string message) : base(StatusCode.NotFound, message) { }
    }

    /// <summary>A definite transactional conflict: start again.</summary>
    public sealed class AbortedException : KahunaException
    {
        /// <summary>An Aborted failure.</summary>
        public AbortedException(string message) : base(StatusCode.Aborted, message) { }
    }

    /// <summary>Transient (no leader, stale route, leader change) after the client's own retries; nothing applied.</summary>
    public sealed class MustRetryException : KahunaException
    {
        /// <summary>A MustRetry failure.</summary>
        public MustRetryException(string message) : base(StatusCode.MustRetry, message) { }
    }

    /// <summary>No node, quorum or leader could be reached in time; nothing applied.</summary>
    public sealed class UnavailableException : KahunaException
    {
        /// <summary>An Unavailable failure.</summary>
        public UnavailableException(string message) : base(StatusCode.Unavailable, message) { }
    }

    /// <summary>The deadline passed, or a write's connection broke in flight: a write's outcome is unknown.</summary>
    public sealed class KahunaTimeoutException : KahunaException
    {
        /// <summary>A Timeout failure.</summary>
        public KahunaTimeoutException(string message) : base(StatusCode.Timeout, message) { }
    }

    /// <summary>The lock does not exist (or its lease expired).</summary>
    public sealed class LockDoesNotExistException : KahunaException
    {
        /// <summary>A LockDoesNotExist failure.</summary>
        public LockDoesNotExistException(string message) : base(StatusCode.LockDoesNotExist, message) { }
    }

    /// <summary>The lock is held by another owner.</summary>
    public sealed class InvalidOwnerException : KahunaException
    {
        /// <summary>An InvalidOwner failure.</summary>
        public InvalidOwnerException(string message) : base(StatusCode.InvalidOwner, message) { }
    }

    /// <summary>A bug or an I/O failure in the server or the library.</summary>
    public sealed class InternalException : KahunaException
    {
        /// <summary>An Internal failure.</summary>
        public InternalException(string message) : base(StatusCode.Internal, message) { }
    }

    /// <summary>
    /// The node's Ephemeral store is at its memory cap (<c>limits.max_ephemeral_mb</c>); nothing was written.
    /// Deletes, expiries or a larger cap make room; retrying at once will not help.
    /// </summary>
    public sealed class ResourceExhaustedException : KahunaException
    {
        /// <summary>A ResourceExhausted failure.</summary>
        public ResourceExhaustedException(string message) : base(StatusCode.ResourceExhausted, message) { }
    }
}
