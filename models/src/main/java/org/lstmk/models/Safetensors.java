package org.lstmk.models;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header size {@code N}, {@code N} bytes of UTF-8 JSON
 * mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data
 * after the header) plus an optional {@code "__metadata__"} map of strings, then the raw little-endian tensor bytes.
 * The header is parsed with Gson; the data is read by position, tensor by tensor.
 *
 * <p>{@link #open(Path)} validates the whole header against the file before anything is read: every tensor's size
 * matches its shape and dtype, and the tensors tile the data section exactly (no gap, overlap or trailing bytes). Floating tensors ({@code F32}, {@code F16}, {@code BF16},
 * {@code F64}) are read widened or narrowed to {@code float32} by {@link Reader#floats(String)}.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Largest header accepted (the reference implementation's limit: 100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Element types of the format, with their sizes in bytes. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4),
        I64(8), U64(8), F64(8);

        private final int bytes;

        Dtype(int bytes) { this.bytes = bytes; }

        /** Bytes per element. */
        public int bytes() { return bytes; }

        /** Whether {@link Reader#floats} reads it. */
        public boolean isFloat() { return this == F32 || this == F16 || this == BF16 || this == F64; }

        static Dtype parse(String s) {
            for (Dtype d : values()) if (d.name().equals(s)) return d;
            return null;
        }
    }

    /**
     * One tensor's header entry. {@code dtype} is null for a type this reader does not know ({@code dtypeName} holds
     * it): such a tensor can be listed but not read.
     */
    public record TensorInfo(String name, Dtype dtype, String dtypeName, long[] shape, long begin, long end) {
        /** Number of elements (1 for a scalar of shape []). */
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        /** The shape as {@code [4, 5]}. */
        public String shapeString() { return Arrays.toString(shape); }
    }

    /** Opens {@code file} and validates its header; close the reader when done. */
    public static Reader open(Path file) throws IOException {
        return new Reader(file);
    }

    /** A safetensors file opened for reading. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;
        private final long dataStart;
        private final Map<String, TensorInfo> tensors;
        private final Map<String, String> metadata;

        private Reader(Path file) throws IOException {
            this.file = Objects.requireNonNull(file, "file");
            try {
                this.channel = FileChannel.open(file, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                throw new NoSuchFileException(file.toString(), null, "no such file");
            }
            boolean ok = false;
            try {
                long size = channel.size();
                if (size < 8) {
                    throw new ModelFormatException(file, "not a safetensors file: " + size
                            + " bytes, shorter than the 8-byte header size");
                }
                ByteBuffer lenBuf = readFully(0, 8, "the header size");
                long n = lenBuf.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                if (n < 2 || n > MAX_HEADER_BYTES) {
                    throw new ModelFormatException(file, "not a safetensors file: header size " + Long.toUnsignedString(n)
                            + " is outside [2, " + MAX_HEADER_BYTES + "]");
                }
                if (8 + n > size) {
                    throw new ModelFormatException(file, "truncated: the header needs " + n + " bytes after the size, "
                            + "the file has " + (size - 8));
                }
                String json;
                try {
                    json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT)
                            .decode(readFully(8, (int) n, "the header")).toString();
                } catch (CharacterCodingException e) {
                    throw new ModelFormatException(file, null, "not a safetensors file: the header is not UTF-8", e);
                }
                this.dataStart = 8 + n;
                Map<String, String> meta = new LinkedHashMap<>();
                this.tensors = Collections.unmodifiableMap(parseHeader(json, size - dataStart, meta));
                this.metadata = Collections.unmodifiableMap(meta);
                ok = true;
            } finally {
                if (!ok) channel.close();
            }
        }

        private Map<String, TensorInfo> parseHeader(String json, long dataSize, Map<String, String> meta)
                throws ModelFormatException {
            JsonObject root;
            try {
                JsonReader r = new JsonReader(new StringReader(json));
                r.setStrictness(Strictness.STRICT);
                JsonElement e = JsonParser.parseReader(r);
                boolean trailing;
                try {
                    trailing = r.peek() != JsonToken.END_DOCUMENT;
                } catch (IOException | JsonParseException | IllegalStateException t) {
                    trailing = true;
                }
                if (trailing) {
                    throw new ModelFormatException(file, "not a safetensors file: data after the header's JSON object");
                }
                if (!e.isJsonObject()) {
                    throw new ModelFormatException(file, "not a safetensors file: the header is JSON but not an object");
                }
                root = e.getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                String why = String.valueOf(e.getMessage()).lines().findFirst().orElse("")
                        .replace("com.google.gson.stream.MalformedJsonException: ", "")
                        .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON");
                throw new ModelFormatException(file, null, "not a safetensors file: the header is not valid JSON ("
                        + why + ")", e);
            }
            Map<String, TensorInfo> out = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> en : root.entrySet()) {
                String name = en.getKey();
                if (name.equals("__metadata__")) {
                    if (!en.getValue().isJsonObject()) {
                        throw new ModelFormatException(file, "__metadata__ must be an object of strings");
                    }
                    for (Map.Entry<String, JsonElement> m : en.getValue().getAsJsonObject().entrySet()) {
                        if (!isString(m.getValue())) {
                            throw new ModelFormatException(file, "__metadata__ value '" + m.getKey()
                                    + "' must be a string, got " + m.getValue());
                        }
                        meta.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                out.put(name, entry(name, en.getValue(), dataSize));
            }
            // As the reference implementation: the tensors tile the data section, without gaps, overlaps or a tail.
            List<TensorInfo> byOffset = new ArrayList<>(out.values());
            byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
            long at = 0;
            for (TensorInfo t : byOffset) {
                if (t.begin() != at) {
                    throw new ModelFormatException(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end() + "] "
                            + (t.begin() < at ? "overlap the previous tensor's data" : "leave a gap after the previous "
                            + "tensor's data") + ", which ends at " + at);
                }
                at = t.end();
            }
            if (at != dataSize) {
                throw new ModelFormatException(file, "corrupt: " + (dataSize - at) + " bytes after the last tensor's data");
            }
            return out;
        }

        private TensorInfo entry(String name, JsonElement v, long dataSize) throws ModelFormatException {
            if (!v.isJsonObject()) throw new ModelFormatException(file, name, "header entry is not an object: " + v);
            JsonObject o = v.getAsJsonObject();
            JsonElement dt = o.get("dtype"), sh = o.get("shape"), off = o.get("data_offsets");
            if (!isString(dt)) throw new ModelFormatException(file, name, "header entry has no string \"dtype\": " + v);
            if (sh == null || !sh.isJsonArray()) {
                throw new ModelFormatException(file, name, "header entry has no array \"shape\": " + v);
            }
            if (off == null || !off.isJsonArray() || off.getAsJsonArray().size() != 2) {
                throw new ModelFormatException(file, name, "header entry has no \"data_offsets\": [begin, end]: " + v);
            }
            JsonArray sa = sh.getAsJsonArray();
            long[] shape = new long[sa.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = nonNegativeLong(sa.get(i), name, "shape");
                try {
                    elements = Math.multiplyExact(elements, shape[i]);
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(file, name, "shape " + sa + " overflows");
                }
            }
            long begin = nonNegativeLong(off.getAsJsonArray().get(0), name, "data_offsets");
            long end = nonNegativeLong(off.getAsJsonArray().get(1), name, "data_offsets");
            if (end < begin) {
                throw new ModelFormatException(file, name, "data_offsets [" + begin + ", " + end + "] end before begin");
            }
            String dtypeName = dt.getAsString();
            Dtype dtype = Dtype.parse(dtypeName);
            if (dtype != null) {
                long need;
                try {
                    need = Math.multiplyExact(elements, dtype.bytes());
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(file, name, "shape " + Arrays.toString(shape) + " overflows");
                }
                if (end - begin != need) {
                    throw new ModelFormatException(file, name, "data_offsets [" + begin + ", " + end + "] hold "
                            + (end - begin) + " bytes, expected " + need + " for " + dtypeName + " "
                            + Arrays.toString(shape));
                }
            }
            if (end > dataSize) {
                throw new ModelFormatException(file, name, "truncated: the tensor's data ends at byte " + end
                        + " of the data section, which has only " + dataSize + " bytes");
            }
            return new TensorInfo(name, dtype, dtypeName, shape, begin, end);
        }

        private long nonNegativeLong(JsonElement e, String name, String field) throws ModelFormatException {
            if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
                try {
                    long l = e.getAsJsonPrimitive().getAsBigDecimal().longValueExact();
                    if (l >= 0) return l;
                } catch (ArithmeticException ignored) {
                    // not an integer: reported below
                }
            }
            throw new ModelFormatException(file, name, "\"" + field + "\" must hold non-negative integers, got " + e);
        }

        private static boolean isString(JsonElement e) {
            return e != null && e.isJsonPrimitive() && ((JsonPrimitive) e).isString();
        }

        private ByteBuffer readFully(long pos, int n, String what) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining()) {
                int r = channel.read(b, pos + b.position());
                if (r < 0) throw new ModelFormatException(file, "truncated while reading " + what);
            }
            return b.flip();
        }

        /** The file read. */
        public Path file() { return file; }

        /** Every tensor's header entry, in the header's order. */
        public Map<String, TensorInfo> tensors() { return tensors; }

        /** The header's {@code __metadata__} (empty when absent). */
        public Map<String, String> metadata() { return metadata; }

        /** The entry of {@code name}, or null. */
        public TensorInfo info(String name) { return tensors.get(name); }

        /**
         * The tensor {@code name} as {@code float32} values in row-major order ({@code F16}, {@code BF16} widened,
         * {@code F64} rounded).
         *
         * @throws ModelFormatException if there is no such tensor, it is not floating point or too large for an array
         */
        public float[] floats(String name) throws IOException {
            TensorInfo t = tensors.get(name);
            if (t == null) throw new ModelFormatException(file, name, "no such tensor in the file");
            if (t.dtype() == null || !t.dtype().isFloat()) {
                throw new ModelFormatException(file, name, "expected a floating-point tensor (F32, F16, BF16 or F64), "
                        + "got dtype " + t.dtypeName());
            }
            long n = t.elements();
            if (n > Integer.MAX_VALUE - 8 || t.end() - t.begin() > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, name, t.shapeString() + " has " + n
                        + " elements, more than a Java array holds");
            }
            ByteBuffer b = readFully(dataStart + t.begin(), (int) (t.end() - t.begin()), "tensor '" + name + "'")
                    .order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[(int) n];
            switch (t.dtype()) {
                case F32 -> b.asFloatBuffer().get(out);
                case F64 -> { for (int i = 0; i < out.length; i++) out[i] = (float) b.getDouble(8 * i); }
                case F16 -> { for (int i = 0; i < out.length; i++) out[i] = Float.float16ToFloat(b.getShort(2 * i)); }
                case BF16 -> { for (int i = 0; i < out.length; i++) out[i] = bf16ToFloat(b.getShort(2 * i)); }
                default -> throw new AssertionError(t.dtype());
            }
            return out;
        }

        @Override public void close() throws IOException {
            channel.close();
        }
    }

    /** One tensor to write: row-major {@code float32} values stored as {@code dtype} (F32, F16 or BF16). */
    public record Tensor(Dtype dtype, long[] shape, float[] values) {
        public Tensor {
            Objects.requireNonNull(dtype, "dtype");
            if (dtype != Dtype.F32 && dtype != Dtype.F16 && dtype != Dtype.BF16) {
                throw new IllegalArgumentException("writes F32, F16 or BF16, not " + dtype);
            }
            shape = shape.clone();
            long n = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n + " elements, got "
                        + values.length + " values");
            }
        }

        /** A float32 tensor. */
        public static Tensor f32(float[] values, long... shape) {
            return new Tensor(Dtype.F32, shape, values);
        }
    }

    /**
     * Writes {@code tensors} (in the map's order) and {@code metadata} to {@code file} in the safetensors format,
     * atomically: into a temporary file in the same folder, renamed over {@code file} at the end.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject m = new JsonObject();
            metadata.forEach(m::addProperty);
            header.add("__metadata__", m);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved");
            Tensor t = e.getValue();
            JsonObject o = new JsonObject();
            o.addProperty("dtype", t.dtype().name());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) shape.add(d);
            o.add("shape", shape);
            JsonArray off = new JsonArray();
            off.add(offset);
            offset += (long) t.values().length * t.dtype().bytes();
            off.add(offset);
            o.add("data_offsets", off);
            header.add(e.getKey(), o);
        }
        Gson gson = new GsonBuilder().disableHtmlEscaping().create();
        byte[] json = gson.toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;   // trailing spaces keep the data 8-byte aligned, as the spec allows
        AtomicFile.write(file, ch -> {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            AtomicFile.writeAll(ch, head.flip());
            for (Tensor t : tensors.values()) AtomicFile.writeAll(ch, encode(t));
        });
    }

    private static ByteBuffer encode(Tensor t) {
        float[] v = t.values();
        ByteBuffer b = ByteBuffer.allocate(v.length * t.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().put(v);
            case F16 -> { for (int i = 0; i < v.length; i++) b.putShort(2 * i, Float.floatToFloat16(v[i])); }
            case BF16 -> { for (int i = 0; i < v.length; i++) b.putShort(2 * i, floatToBf16(v[i])); }
            default -> throw new AssertionError(t.dtype());
        }
        return b;
    }

    /** bfloat16 bits to float: the upper half of a float32. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float to bfloat16 bits, rounded to nearest even (NaN stays NaN), as PyTorch's {@code .bfloat16()}. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
