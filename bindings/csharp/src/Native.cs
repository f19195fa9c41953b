// The P/Invoke surface of libkahuna: the structs and functions of bindings/c/include/kahuna.h,
// declared one to one, plus the marshalling helpers every call of Client uses.
//
// Rules this file relies on (see docs/c.md): every function returns a status (int, the numbers
// of StatusCode); results come back in an out-struct that the library zeroed first, so freeing
// it is always safe; the message of a failure comes back as a UTF-8 string that only
// kahuna_string_free may release. Strings go in as NUL-terminated UTF-8 byte arrays, which
// this file builds strictly (a lone surrogate or a NUL inside a key is InvalidInput here,
// before the library is called).

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Kahuna
{
    /// <summary>The owner of a native kahuna_client handle; frees it exactly once.</summary>
    internal sealed class ClientHandle : SafeHandle
    {
        private ClientHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            Native.kahuna_client_free(handle);
            return true;
        }
    }

    /// <summary>Declarations of libkahuna's exported functions and result structs.</summary>
    internal static class Native
    {
        private const string Library = "kahuna";

        [StructLayout(LayoutKind.Sequential)]
        internal struct Options
        {
            public ulong TimeoutMs;
            public ulong ConnectTimeoutMs;
            public ulong ReadAttemptTimeoutMs;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct SetResult
        {
            public byte Set;
            public long Revision;
            public ulong LastModified;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct GetResult
        {
            public byte Found;
            public IntPtr Value;
            public UIntPtr ValueLen;
            public long Revision;
            public ulong ExpiresAt;
            public ulong LastModified;
        }

        /// <summary>kahuna_exists_result, kahuna_delete_result and kahuna_extend_result.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct FlagResult
        {
            public byte Flag;
            public long Revision;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Entry
        {
            public IntPtr Key;
            public UIntPtr KeyLen;
            public IntPtr Value;
            public UIntPtr ValueLen;
            public long Revision;
            public ulong ExpiresAt;
            public ulong LastModified;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Entries
        {
            public IntPtr Items;
            public UIntPtr Len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct ScanPage
        {
            public Entries Entries;
            public IntPtr Cursor;
            public UIntPtr CursorLen;
            public ulong Snapshot;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Node
        {
            public ulong Id;
            public IntPtr Address;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Partition
        {
            public ulong Leader;
            public ulong Term;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Topology
        {
            public ulong ClusterId;
            public IntPtr ClusterName;
            public uint PartitionCount;
            public IntPtr Partitions;
            public IntPtr Nodes;
            public UIntPtr NodeCount;
            public ulong AnsweredBy;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct LockResult
        {
            public byte Locked;
            public long FencingToken;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct LockInfo
        {
            public IntPtr Owner;
            public UIntPtr OwnerLen;
            public ulong ExpiresAt;
            public long FencingToken;
        }

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_client_connect(byte[] endpoints, ref Options options, out ClientHandle client, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_client_free(IntPtr client);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_get_topology(ClientHandle client, out Topology result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_set(ClientHandle client, byte[] key, byte[] value, UIntPtr valueLen, long expiresMs, uint flags, int durability, out SetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_compare_value_and_set(ClientHandle client, byte[] key, byte[] value, UIntPtr valueLen, byte[] compareValue, UIntPtr compareValueLen, long expiresMs, int durability, out SetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_compare_revision_and_set(ClientHandle client, byte[] key, byte[] value, UIntPtr valueLen, long compareRevision, long expiresMs, int durability, out SetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_get(ClientHandle client, byte[] key, int durability, out GetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_get_revision(ClientHandle client, byte[] key, long revision, int durability, out GetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_get_as_of(ClientHandle client, byte[] key, ulong timestamp, int durability, out GetResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_exists(ClientHandle client, byte[] key, int durability, out FlagResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_delete(ClientHandle client, byte[] key, int durability, out FlagResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_extend(ClientHandle client, byte[] key, long expiresMs, int durability, out FlagResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_get_by_bucket(ClientHandle client, byte[] bucket, int durability, out Entries result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_scan_by_prefix(ClientHandle client, byte[] prefix, uint limit, byte[] cursor, UIntPtr cursorLen, int durability, out ScanPage result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_scan_all_by_prefix(ClientHandle client, byte[] prefix, int durability, out Entries result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_lock(ClientHandle client, byte[] resource, byte[] owner, UIntPtr ownerLen, long expiresMs, int durability, out LockResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_lock_with_wait(ClientHandle client, byte[] resource, byte[] owner, UIntPtr ownerLen, long expiresMs, long waitMs, int durability, out LockResult result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_try_extend_lock(ClientHandle client, byte[] resource, byte[] owner, UIntPtr ownerLen, long expiresMs, int durability, out long fencingToken, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_unlock(ClientHandle client, byte[] resource, byte[] owner, UIntPtr ownerLen, int durability, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int kahuna_get_lock(ClientHandle client, byte[] resource, int durability, out LockInfo result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_lock_info_free(ref LockInfo info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_get_result_free(ref GetResult result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_entries_free(ref Entries entries);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_scan_page_free(ref ScanPage page);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_topology_free(ref Topology topology);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void kahuna_string_free(IntPtr s);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr kahuna_version();

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>The NUL-terminated UTF-8 bytes of an argument; null stays null (the library
        /// then answers "name is NULL").</summary>
        internal static byte[] Text(string value, string name)
        {
            if (value == null)
                return null;
            if (value.IndexOf('\0') >= 0)
                throw new InvalidInputException($"{name} must not contain NUL characters");
            try
            {
                var bytes = new byte[StrictUtf8.GetByteCount(value) + 1];
                StrictUtf8.GetBytes(value, 0, value.Length, bytes, 0);
                return bytes;
            }
            catch (EncoderFallbackException e)
            {
                throw new InvalidInputException($"{name} is not valid Unicode (it cannot be encoded as UTF-8): {e.Message}");
            }
        }

        /// <summary>A byte-array argument, which must not be null.</summary>
        internal static byte[] Bytes(byte[] value, string name)
        {
            if (value == null)
                throw new InvalidInputException($"{name} must not be null (use an empty array for an empty value)");
            return value;
        }

        /// <summary>A lock owner given as bytes, which must not be null (the library rejects an empty one).</summary>
        internal static byte[] Owner(byte[] owner)
        {
            if (owner == null)
                throw new InvalidInputException("owner must not be null");
            return owner;
        }

        /// <summary>The UTF-8 bytes of a string value, which must not be null.</summary>
        internal static byte[] Value(string value, string name)
        {
            if (value == null)
                throw new InvalidInputException($"{name} must not be null");
            return StrictUtf8.GetBytes(value);
        }

        /// <summary>Throws the exception of a failed status, taking and freeing the message.</summary>
        internal static void Check(int status, IntPtr err)
        {
            var message = TakeString(err);
            if (status != 0)
                throw KahunaException.FromCode((StatusCode)status, message ?? "(no message)");
        }

        /// <summary>Copies a UTF-8 string the library returned and frees it; null for NULL.</summary>
        internal static string TakeString(IntPtr s)
        {
            if (s == IntPtr.Zero)
                return null;
            try
            {
                return ReadString(s);
            }
            finally
            {
                kahuna_string_free(s);
            }
        }

        /// <summary>Copies a NUL-terminated UTF-8 string the library still owns.</summary>
        internal static string ReadString(IntPtr s)
        {
            if (s == IntPtr.Zero)
                return null;
            int len = 0;
            while (Marshal.ReadByte(s, len) != 0)
                len++;
            return Encoding.UTF8.GetString(CopyBytes(s, (UIntPtr)(uint)len));
        }

        /// <summary>Copies a buffer the library still owns; null for NULL.</summary>
        internal static byte[] CopyBytes(IntPtr p, UIntPtr len)
        {
            if (p == IntPtr.Zero)
                return null;
            var bytes = new byte[checked((int)len.ToUInt64())];
            if (bytes.Length > 0)
                Marshal.Copy(p, bytes, 0, bytes.Length);
            return bytes;
        }

        /// <summary>Copies the entries of a list the library still owns.</summary>
        internal static Entry[] ReadEntries(Entries entries)
        {
            int count = checked((int)entries.Len.ToUInt64());
            var items = new Entry[count];
            int size = Marshal.SizeOf(typeof(Entry));
            for (int i = 0; i < count; i++)
                items[i] = (Entry)Marshal.PtrToStructure(IntPtr.Add(entries.Items, i * size), typeof(Entry));
            return items;
        }

        internal static UIntPtr Len(byte[] bytes) => (UIntPtr)(uint)(bytes == null ? 0 : bytes.Length);
    }
}
