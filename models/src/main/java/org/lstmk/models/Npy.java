package org.lstmk.models;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * NumPy's {@code .npy} format, for {@code float32} arrays and {@code int32}/{@code int64} integer arrays
 * (numpy.lib.format, versions 1.0, 2.0 and 3.0). No maintained Java library for it is served by the project's Maven
 * repository, so this is a small implementation of the documented format:
 *
 * <pre>
 *   "\x93NUMPY" major minor                      6 + 2 bytes
 *   HEADER_LEN                                   uint16 LE (1.0) or uint32 LE (2.0, 3.0)
 *   header                                       a Python dict literal, latin-1 (1.0, 2.0) or UTF-8 (3.0), e.g.
 *                                                {'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }
 *                                                padded with spaces and ended by '\n'
 *   data                                         the elements in C order, the byte order descr names
 * </pre>
 *
 * The header is read by a parser of exactly that literal's grammar: a dict of string keys whose values are strings,
 * {@code True}/{@code False} or tuples of integers. Files are written as version 1.0 (2.0 where the header needs it),
 * the header padded so the data starts at a multiple of 64 bytes, as {@code np.save} does.
 */
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    /** Element types read and written. */
    public enum Type {
        FLOAT32("f4", 4), INT32("i4", 4), INT64("i8", 8);

        private final String code;
        private final int bytes;

        Type(String code, int bytes) {
            this.code = code;
            this.bytes = bytes;
        }

        /** numpy's name: {@code float32}, {@code int32}, {@code int64}. */
        public String numpyName() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** A parsed header: the dtype string, the layout flag and the shape. */
    public record Header(String descr, boolean fortranOrder, long[] shape) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public String shapeString() {
            return "(" + String.join(", ", Arrays.stream(shape).mapToObj(Long::toString).toList())
                    + (shape.length == 1 ? ",)" : ")");
        }
    }

    /** A {@code float32} array: its shape and its elements in C order. */
    public record FloatArray(long[] shape, float[] data) {
        public FloatArray {
            shape = shape.clone();
            checkCount(shape, data.length);
        }

        public int rank() { return shape.length; }

        /** Dimension {@code i} (it fits an int, since the data does). */
        public int dim(int i) { return (int) shape[i]; }
    }

    /** An integer array ({@code int32} or {@code int64} in the file), widened to {@code long}, in C order. */
    public record IntArray(Type type, long[] shape, long[] data) {
        public IntArray {
            shape = shape.clone();
            checkCount(shape, data.length);
        }

        public int rank() { return shape.length; }
    }

    private static void checkCount(long[] shape, int count) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= d;
        }
        if (n != count) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n + " elements, got " + count);
        }
    }

    // ---------------------------------------------------------------------------------------------------- reading

    /** Reads a {@code float32} array; any other dtype is an error naming it. */
    public static FloatArray readFloat32(Path file) throws IOException {
        try (Opened o = open(file)) {
            Type t = o.type("float32 ('<f4')", Type.FLOAT32);
            ByteBuffer b = o.data(t);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return new FloatArray(o.header.shape(), out);
        }
    }

    /** Reads an {@code int32} or {@code int64} array; any other dtype is an error naming it. */
    public static IntArray readIntegers(Path file) throws IOException {
        try (Opened o = open(file)) {
            Type t = o.type("int32 or int64 ('<i4', '<i8')", Type.INT32, Type.INT64);
            ByteBuffer b = o.data(t);
            long[] out = new long[b.remaining() / t.bytes];
            if (t == Type.INT64) {
                b.asLongBuffer().get(out);
            } else {
                for (int i = 0; i < out.length; i++) out[i] = b.getInt(4 * i);
            }
            return new IntArray(t, o.header.shape(), out);
        }
    }

    /** Reads and parses the header only (any dtype). */
    public static Header readHeader(Path file) throws IOException {
        try (Opened o = open(file)) {
            return o.header;
        }
    }

    private static final class Opened implements AutoCloseable {
        final Path file;
        final FileChannel ch;
        final Header header;
        final long dataStart;
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;

        Opened(Path file, FileChannel ch, Header header, long dataStart) {
            this.file = file;
            this.ch = ch;
            this.header = header;
            this.dataStart = dataStart;
        }

        /** The header's dtype if it is one of {@code allowed}, else an error naming what was expected. */
        Type type(String expected, Type... allowed) throws ModelFormatException {
            String d = header.descr();
            char bo = d.isEmpty() ? '?' : d.charAt(0);
            String code = d.length() > 1 ? d.substring(1) : d;
            Type found = null;
            for (Type t : Type.values()) if (t.code.equals(code)) found = t;
            boolean knownOrder = bo == '<' || bo == '>' || bo == '=' || bo == '|';
            if (found == null || !knownOrder || bo == '|' || !Arrays.asList(allowed).contains(found)) {
                throw new ModelFormatException(file, "expected dtype " + expected + ", got '" + d + "'" + describe(d)
                        + (allowed[0] == Type.FLOAT32 ? "; convert with a.astype(numpy.float32)" : ""));
            }
            order = bo == '>' ? ByteOrder.BIG_ENDIAN : bo == '<' ? ByteOrder.LITTLE_ENDIAN : ByteOrder.nativeOrder();
            if (header.fortranOrder() && nonTrivialDims(header.shape()) > 1) {
                throw new ModelFormatException(file, "fortran_order=True arrays are not supported; save a C-ordered "
                        + "copy (numpy.ascontiguousarray)");
            }
            return found;
        }

        /** All the data of a {@code t} array, checked against the shape: not truncated, nothing after it. */
        ByteBuffer data(Type t) throws IOException {
            long n = header.elements();
            long size = ch.size() - dataStart;
            long need = n * t.bytes;
            if (n > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, "shape " + header.shapeString() + " has " + n
                        + " elements, more than a Java array holds");
            }
            if (size < need) {
                throw new ModelFormatException(file, "truncated: shape " + header.shapeString() + " of " + t.numpyName()
                        + " needs " + need + " bytes of data, the file has " + size);
            }
            if (size > need) {
                throw new ModelFormatException(file, "corrupt: " + (size - need) + " bytes after the data of shape "
                        + header.shapeString() + " (" + need + " bytes of " + t.numpyName() + ")");
            }
            if (need > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, need + " bytes of data, more than one read holds");
            }
            ByteBuffer b = ByteBuffer.allocate((int) need);
            readFully(file, ch, b, dataStart);
            return b.flip().order(order);
        }

        @Override public void close() throws IOException { ch.close(); }
    }

    private static int nonTrivialDims(long[] shape) {
        int n = 0;
        for (long d : shape) if (d != 1) n++;
        return n;
    }

    private static String describe(String descr) {
        return switch (descr.length() > 1 ? descr.substring(1) : descr) {
            case "f8" -> " (float64)";
            case "f2" -> " (float16)";
            case "f4" -> " (float32)";
            case "i1", "b1" -> " (int8/bool)";
            case "i2" -> " (int16)";
            case "i4" -> " (int32)";
            case "i8" -> " (int64)";
            case "u1", "u2", "u4", "u8" -> " (unsigned)";
            default -> "";
        };
    }

    private static Opened open(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no such file");
        }
        boolean ok = false;
        try {
            long size = ch.size();
            if (size < 10) throw new ModelFormatException(file, "not a .npy file: only " + size + " bytes");
            ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            pre.limit((int) Math.min(12, size));
            readFully(file, ch, pre, 0);
            for (int i = 0; i < MAGIC.length; i++) {
                if (pre.get(i) != MAGIC[i]) {
                    throw new ModelFormatException(file, "not a .npy file: it does not start with \\x93NUMPY");
                }
            }
            int major = pre.get(6) & 0xff, minor = pre.get(7) & 0xff;
            long headerLen;
            int prefix;
            if (major == 1) {
                headerLen = pre.getShort(8) & 0xffff;
                prefix = 10;
            } else if (major == 2 || major == 3) {
                if (size < 12) throw new ModelFormatException(file, "truncated: the .npy header size is cut off");
                headerLen = pre.getInt(8) & 0xffffffffL;
                prefix = 12;
            } else {
                throw new ModelFormatException(file, "unsupported .npy format version " + major + "." + minor
                        + " (reads 1.0, 2.0, 3.0)");
            }
            if (prefix + headerLen > size) {
                throw new ModelFormatException(file, "truncated: the .npy header needs " + headerLen
                        + " bytes, the file has " + (size - prefix));
            }
            if (headerLen > 1 << 24) {
                throw new ModelFormatException(file, "corrupt: .npy header of " + headerLen + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(file, ch, hb, prefix);
            String text = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Header h = parseHeader(file, text);
            ok = true;
            return new Opened(file, ch, h, prefix + headerLen);
        } finally {
            if (!ok) ch.close();
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer b, long pos) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int r = ch.read(b, p);
            if (r < 0) throw new ModelFormatException(file, "truncated: the file ends at byte " + p);
            p += r;
        }
    }

    /** Parses the header's dict literal; package-visible for tests. */
    static Header parseHeader(Path file, String text) throws ModelFormatException {
        Map<String, Object> dict = new HeaderParser(file, text).dict();
        Object descr = dict.get("descr"), fortran = dict.get("fortran_order"), shape = dict.get("shape");
        if (!(descr instanceof String d)) {
            throw new ModelFormatException(file, "the .npy header's 'descr' must be a dtype string"
                    + (descr == null ? " and is missing" : " (structured dtypes are not supported), got " + descr));
        }
        if (!(fortran instanceof Boolean f)) {
            throw new ModelFormatException(file, "the .npy header's 'fortran_order' must be True or False, got " + fortran);
        }
        if (!(shape instanceof long[] s)) {
            throw new ModelFormatException(file, "the .npy header's 'shape' must be a tuple of integers, got " + shape);
        }
        long n = 1;
        for (long dim : s) {
            if (dim < 0 || (dim > 0 && n > Long.MAX_VALUE / dim)) {
                throw new ModelFormatException(file, "the .npy header's 'shape' " + Arrays.toString(s) + " is invalid");
            }
            n *= dim;
        }
        return new Header(d, f, s);
    }

    /**
     * A recursive-descent parser of the one literal numpy writes: {@code dict := '{' (key ':' value ',')* [key ':'
     * value] '}'}, keys are strings, values a string, {@code True}, {@code False} or a tuple of integers (a trailing
     * {@code L}, as Python 2 wrote, is accepted).
     */
    private static final class HeaderParser {
        private final Path file;
        private final String s;
        private int i;

        HeaderParser(Path file, String s) {
            this.file = file;
            this.s = s;
        }

        private ModelFormatException error(String what) {
            String shown = s.strip();
            return new ModelFormatException(file, "corrupt .npy header: " + what + " at character " + i + " of "
                    + (shown.length() > 200 ? shown.substring(0, 200) + "..." : shown));
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private boolean eat(char c) {
            ws();
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) throws ModelFormatException {
            if (!eat(c)) throw error("expected '" + c + "'");
        }

        Map<String, Object> dict() throws ModelFormatException {
            Map<String, Object> out = new LinkedHashMap<>();
            expect('{');
            while (!eat('}')) {
                String key = string();
                expect(':');
                if (out.put(key, value()) != null) throw error("duplicate key '" + key + "'");
                if (!eat(',')) {
                    expect('}');
                    break;
                }
            }
            ws();
            if (i != s.length()) throw error("unexpected text after the dict");
            return out;
        }

        private Object value() throws ModelFormatException {
            ws();
            if (i >= s.length()) throw error("expected a value");
            char c = s.charAt(i);
            if (c == '\'' || c == '"') return string();
            if (c == '(') return tuple();
            if (s.startsWith("True", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (c == '[') throw error("a list value (a structured dtype?) is not supported");
            throw error("unexpected '" + c + "'");
        }

        private String string() throws ModelFormatException {
            ws();
            if (i >= s.length() || (s.charAt(i) != '\'' && s.charAt(i) != '"')) throw error("expected a quoted string");
            char q = s.charAt(i++);
            StringBuilder b = new StringBuilder();
            while (i < s.length() && s.charAt(i) != q) {
                char c = s.charAt(i++);
                if (c == '\\') {
                    if (i >= s.length()) break;
                    c = s.charAt(i++);
                }
                b.append(c);
            }
            if (i >= s.length()) throw error("unterminated string");
            i++;
            return b.toString();
        }

        private long[] tuple() throws ModelFormatException {
            expect('(');
            List<Long> dims = new ArrayList<>();
            while (!eat(')')) {
                dims.add(integer());
                if (!eat(',')) {
                    expect(')');
                    break;
                }
            }
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private long integer() throws ModelFormatException {
            ws();
            int start = i;
            while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
            if (start == i) throw error("expected a non-negative integer");
            long v;
            try {
                v = Long.parseLong(s.substring(start, i));
            } catch (NumberFormatException e) {
                throw error("integer out of range");
            }
            if (i < s.length() && (s.charAt(i) == 'L' || s.charAt(i) == 'l')) i++;
            return v;
        }
    }

    // ---------------------------------------------------------------------------------------------------- writing

    /** Writes a {@code float32} array (little-endian, C order) atomically. */
    public static void writeFloat32(Path file, long[] shape, float[] data) throws IOException {
        checkCount(shape, data.length);
        ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(data);
        write(file, "<f4", shape, b);
    }

    /** Writes an {@code int64} array atomically. */
    public static void writeInt64(Path file, long[] shape, long[] data) throws IOException {
        checkCount(shape, data.length);
        ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(data);
        write(file, "<i8", shape, b);
    }

    /** Writes an {@code int32} array atomically. */
    public static void writeInt32(Path file, long[] shape, int[] data) throws IOException {
        checkCount(shape, data.length);
        ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(data);
        write(file, "<i4", shape, b);
    }

    /** The header bytes of a C-ordered array, as {@code np.save} writes it (version 1.0 unless it needs 2.0). */
    static byte[] header(String descr, long[] shape) {
        StringBuilder t = new StringBuilder("(");
        for (int k = 0; k < shape.length; k++) t.append(k == 0 ? "" : ", ").append(shape[k]);
        t.append(shape.length == 1 ? ",)" : ")");
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + t + ", }";
        int prefix = 10;
        int total = prefix + dict.length() + 1;
        if (((total + 63) & ~63) - prefix > 0xffff) prefix = 12;
        total = prefix + dict.length() + 1;
        int padded = (total + 63) & ~63;
        int headerLen = padded - prefix;
        ByteBuffer b = ByteBuffer.allocate(padded).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) (prefix == 10 ? 1 : 2)).put((byte) 0);
        if (prefix == 10) b.putShort((short) headerLen); else b.putInt(headerLen);
        b.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (b.position() < padded - 1) b.put((byte) ' ');
        b.put((byte) '\n');
        return b.array();
    }

    private static void write(Path file, String descr, long[] shape, ByteBuffer data) throws IOException {
        byte[] head = header(descr, shape);
        AtomicFile.write(file, ch -> {
            AtomicFile.writeAll(ch, ByteBuffer.wrap(head));
            AtomicFile.writeAll(ch, data.rewind());
        });
    }
}
