package org.lstmk.models;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;
import org.lstmk.models.onnx.OnnxProto.AttributeProto;
import org.lstmk.models.onnx.OnnxProto.GraphProto;
import org.lstmk.models.onnx.OnnxProto.ModelProto;
import org.lstmk.models.onnx.OnnxProto.NodeProto;
import org.lstmk.models.onnx.OnnxProto.StringStringEntryProto;
import org.lstmk.models.onnx.OnnxProto.TensorProto;

/**
 * Imports the {@code LSTM} nodes of an ONNX model ({@code .onnx}), parsed with protobuf-java through classes generated
 * at build time from the ONNX schema ({@code src/main/proto/onnx/onnx.proto}).
 *
 * <p><b>What is read</b>, per {@code LSTM} node: the inputs {@code W [D, 4H, I]}, {@code R [D, 4H, H]},
 * {@code B [D, 8H]} ({@code [Wb, Rb]}, optional: zeros) and {@code P [D, 3H]} ({@code [P_i, P_o, P_f]}, optional),
 * which must be initializers or {@code Constant} nodes, stored as {@code float}, {@code float16}, {@code bfloat16}
 * or {@code double} (read as {@code float32}) in {@code raw_data}, in the typed fields ({@code float_data},
 * {@code int32_data}, {@code double_data}) or as external data ({@code location}, {@code offset}, {@code length}
 * relative to the model file's folder, as {@code torch.onnx.export} and
 * {@code onnx.save(..., save_as_external_data=True)} write them); and the attributes {@code hidden_size},
 * {@code direction} ({@code forward} or {@code bidirectional}), {@code layout} (0: time-major, 1: batch-major),
 * {@code clip} (the configuration's cell clip), {@code activations} (only {@code Sigmoid, Tanh, Tanh}, per direction)
 * and {@code input_forget} (only 0). Any other attribute, or an unsupported value, is refused by name.
 *
 * <p><b>Conversion</b>: ONNX's gate order {@code i, o, f, c} becomes this library's {@code i, f, g, o} in the rows of
 * {@code W} (→ {@code wIh}), {@code R} (→ {@code wHh}), {@code Wb} (→ {@code bIh}) and {@code Rb} (→ {@code bHh});
 * {@code P} is already in this library's order.
 *
 * <p><b>Which nodes.</b> The graph's nodes are in topological order (the ONNX spec requires it). With no name given,
 * a graph with one {@code LSTM} imports it; a graph with several imports them as one stack when they are a chain:
 * each one after the first reads the previous one's {@code Y} through the reshaping exporters put between layers
 * ({@code Transpose} with perm {@code [0, 2, 1, 3]}, {@code Squeeze}, {@code Reshape} to rank 3, {@code Identity}),
 * with the same hidden size, direction, layout and clip. Otherwise name the node to import alone (its {@code name},
 * or {@code #k} for the k-th {@code LSTM} node, from 0); the error lists them.
 *
 * <p><b>Not imported</b>: the graph's other nodes (an LSTM's input and output are the caller's to prepare and use);
 * {@code sequence_lens} as a graph input is the per-call lengths of a {@link org.lstmk.api.SequenceBatch}, not part of
 * the model (a constant one is refused); {@code initial_h} and {@code initial_c} are the caller's initial state (a
 * constant one must be zeros, as {@code torch.onnx.export} writes it); a lone {@code reverse} LSTM is refused.
 */
public final class OnnxImporter {
    private OnnxImporter() {}

    /** The format's name in {@link ModelInfo#format()}. */
    public static final String FORMAT = "ONNX LSTM";

    /** Our gate q ({@code i, f, g, o}) is ONNX gate {@code ONNX_GATE[q]} ({@code i, o, f, c}). */
    private static final int[] ONNX_GATE = {0, 2, 3, 1};
    private static final String[] INPUTS = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
    private static final long MAX_FILE = Integer.MAX_VALUE - 8;

    /** Loads the only LSTM (or chain of stacked LSTMs) in {@code file}. */
    public static LstmModel load(Path file) throws IOException {
        return load(file, null);
    }

    /**
     * Loads the {@code LSTM} node named {@code name} ({@code #k}: the k-th {@code LSTM} node), or with {@code name}
     * null the only one, or the chain of stacked ones.
     *
     * @throws ModelFormatException naming the file, the tensor or attribute and what was expected, when the file is
     *                              not an ONNX model, is truncated, its external data is missing or short, or an
     *                              LSTM uses a feature this library does not run
     */
    public static LstmModel load(Path file, String name) throws IOException {
        ModelProto model = parse(file);
        Graph g = new Graph(file, model.getGraph());
        List<NodeProto> chosen = g.choose(name);
        return g.convert(chosen);
    }

    /** The names of the {@code LSTM} nodes of {@code file}'s graph in graph order ({@code #k} for an unnamed one). */
    public static List<String> lstmNodes(Path file) throws IOException {
        Graph g = new Graph(file, parse(file).getGraph());
        List<String> out = new ArrayList<>();
        for (int k = 0; k < g.lstms.size(); k++) out.add(g.label(k));
        return out;
    }

    static ModelProto parse(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE) {
            throw new ModelFormatException(file, "an ONNX protobuf file holds at most 2 GiB (larger weights are stored "
                    + "as external data), this one has " + size + " bytes");
        }
        ModelProto m;
        try {
            m = ModelProto.parseFrom(Files.readAllBytes(file));
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(file, null, "not an ONNX model, or truncated: the protobuf ModelProto does "
                    + "not parse (" + e.getMessage() + ")", e);
        }
        if (!m.hasGraph() || m.getIrVersion() <= 0) {
            throw new ModelFormatException(file, "not an ONNX model: expected a ModelProto with an ir_version and a "
                    + "graph, got " + (m.hasGraph() ? "no ir_version" : "no graph"));
        }
        return m;
    }

    /** One LSTM node's attributes, checked. */
    private record Attrs(int hidden, boolean bidirectional, Layout layout, float clip) {}

    /** A node's weights, as found (ONNX order), and where from. */
    private record Node(NodeProto node, String label, Attrs attrs, float[] w, float[] r, float[] b, float[] p,
                        int input) {}

    private static final class Graph {
        final Path file;
        final GraphProto graph;
        final Map<String, TensorProto> constants = new HashMap<>();
        final Map<String, NodeProto> producer = new HashMap<>();
        final List<NodeProto> lstms = new ArrayList<>();
        final Set<String> dtypes = new LinkedHashSet<>();
        final List<String> read = new ArrayList<>();

        Graph(Path file, GraphProto graph) {
            this.file = file;
            this.graph = graph;
            for (TensorProto t : graph.getInitializerList()) constants.put(t.getName(), t);
            for (NodeProto n : graph.getNodeList()) {
                for (String o : n.getOutputList()) producer.put(o, n);
                if (isOp(n, "Constant") && n.getOutputCount() == 1) {
                    for (AttributeProto a : n.getAttributeList()) {
                        if (a.getName().equals("value") && a.hasT()) constants.put(n.getOutput(0), a.getT());
                    }
                }
                if (isOp(n, "LSTM")) lstms.add(n);
            }
        }

        static boolean isOp(NodeProto n, String op) {
            return n.getOpType().equals(op) && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx"));
        }

        String label(int k) {
            String n = lstms.get(k).getName();
            return n.isEmpty() ? "#" + k : n;
        }

        String listing() {
            List<String> s = new ArrayList<>();
            for (int k = 0; k < lstms.size(); k++) {
                NodeProto n = lstms.get(k);
                String h = "?";
                for (AttributeProto a : n.getAttributeList()) if (a.getName().equals("hidden_size")) h = "" + a.getI();
                s.add("'" + label(k) + "' (#" + k + ", hidden_size " + h + ", X = '" + input(n, 0) + "')");
            }
            return String.join(", ", s);
        }

        List<NodeProto> choose(String name) throws IOException {
            if (lstms.isEmpty()) {
                Set<String> ops = new LinkedHashSet<>();
                for (NodeProto n : graph.getNodeList()) ops.add(n.getOpType());
                throw new ModelFormatException(file, "no LSTM node in the graph (its ops: "
                        + (ops.isEmpty() ? "none" : String.join(", ", ops)) + ")");
            }
            if (name != null) {
                for (int k = 0; k < lstms.size(); k++) {
                    if (lstms.get(k).getName().equals(name) || ("#" + k).equals(name)) return List.of(lstms.get(k));
                }
                throw new ModelFormatException(file, "no LSTM node named '" + name + "'; the graph's LSTM nodes: "
                        + listing());
            }
            if (lstms.size() == 1) return lstms;
            String why = notAStack();
            if (why != null) {
                throw new ModelFormatException(file, lstms.size() + " LSTM nodes that are not one stack (" + why
                        + "): name the one to load; the graph's LSTM nodes: " + listing());
            }
            return lstms;
        }

        /** Why the LSTM nodes are not a chain of stacked layers, or null when they are. */
        String notAStack() throws IOException {
            NodeProto first = lstms.get(0);
            Attrs a0 = attrs(first, label(0));
            for (int k = 1; k < lstms.size(); k++) {
                Attrs a = attrs(lstms.get(k), label(k));
                if (a.hidden != a0.hidden || a.bidirectional != a0.bidirectional || a.layout != a0.layout
                        || Float.compare(a.clip, a0.clip) != 0) {
                    return "'" + label(k) + "' differs from '" + label(0) + "' in hidden_size, direction, layout or clip";
                }
                String from = traceToY(input(lstms.get(k), 0), a0);
                String prevY = lstms.get(k - 1).getOutputCount() > 0 ? lstms.get(k - 1).getOutput(0) : "";
                if (from == null || prevY.isEmpty() || !from.equals(prevY)) {
                    return "'" + label(k) + "' does not read the Y of '" + label(k - 1) + "' reshaped to [T, B, D·H]";
                }
            }
            return null;
        }

        /**
         * The LSTM output {@code v} is computed from through the reshaping between stacked layers (the layer below's
         * {@code Y} to {@code [T, B, D·H]}, or {@code [B, T, D·H]} with layout 1), or null if it is not that.
         */
        String traceToY(String v, Attrs a) throws IOException {
            int transposes = 0;
            for (int depth = 0; depth < 8; depth++) {
                NodeProto n = producer.get(v);
                if (n == null) return null;
                if (isOp(n, "LSTM")) {
                    // Y is [T, D, B, H] (layout 0): with two directions it must be transposed to [T, B, D, H] first
                    boolean ok = a.layout == Layout.TIME_MAJOR ? (a.bidirectional ? transposes == 1 : transposes <= 1)
                            : transposes == 0;
                    return ok ? v : null;
                }
                if (n.getInputCount() == 0) return null;
                boolean ok = false;
                if (isOp(n, "Identity")) ok = true;
                else if (isOp(n, "Squeeze")) ok = !a.bidirectional;
                else if (isOp(n, "Transpose")) {
                    for (AttributeProto at : n.getAttributeList()) {
                        if (at.getName().equals("perm")) ok = at.getIntsList().equals(List.of(0L, 2L, 1L, 3L));
                    }
                    transposes++;
                } else if (isOp(n, "Reshape") && n.getInputCount() >= 2) {
                    long[] shape = shape(constants.get(n.getInput(1)));
                    long last = a.hidden * (a.bidirectional ? 2L : 1L);
                    ok = shape != null && shape.length == 3 && (shape[2] == -1 || shape[2] == last || a.hidden < 0);
                }
                if (!ok) return null;
                v = n.getInput(0);
            }
            return null;
        }

        /** The values of an int64 shape constant, or null when it is not one. */
        long[] shape(TensorProto t) throws IOException {
            if (t == null || t.getDataType() != 7 || t.getDimsCount() != 1 || t.getDims(0) > 8) return null;
            int n = (int) t.getDims(0);
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL && t.getRawData().isEmpty()) {
                if (t.getInt64DataCount() != n) return null;
                return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
            }
            ByteBuffer b = t.getDataLocation() == TensorProto.DataLocation.EXTERNAL ? external(t, 8L * n)
                    : t.getRawData().asReadOnlyByteBuffer();
            if (b.remaining() != 8 * n) return null;
            b.order(ByteOrder.LITTLE_ENDIAN);
            long[] out = new long[n];
            for (int i = 0; i < n; i++) out[i] = b.getLong();
            return out;
        }

        static String input(NodeProto n, int i) {
            return i < n.getInputCount() ? n.getInput(i) : "";
        }

        ModelFormatException bad(String node, String attribute, String problem) {
            return new ModelFormatException(file, "LSTM node '" + node + "': attribute '" + attribute + "': " + problem);
        }

        Attrs attrs(NodeProto n, String label) throws ModelFormatException {
            long hidden = -1, layout = 0;
            String direction = "forward";
            float clip = 0;
            List<String> activations = null;
            for (AttributeProto a : n.getAttributeList()) {
                String name = a.getName();
                switch (name) {
                    case "hidden_size" -> hidden = a.getI();
                    case "layout" -> layout = a.getI();
                    case "direction" -> direction = a.getS().toStringUtf8();
                    case "clip" -> {
                        clip = a.getF();
                        if (!(clip > 0) || Float.isInfinite(clip)) throw bad(label, name, "expected a finite value > 0, got " + clip);
                    }
                    case "input_forget" -> {
                        if (a.getI() != 0) {
                            throw bad(label, name, "expected 0, got " + a.getI() + " (coupled input and forget gates "
                                    + "are not supported)");
                        }
                    }
                    case "activations" -> {
                        activations = new ArrayList<>();
                        for (ByteString s : a.getStringsList()) activations.add(s.toStringUtf8());
                    }
                    case "activation_alpha", "activation_beta" -> {
                        if (a.getFloatsCount() > 0) {
                            throw bad(label, name, "not supported (it parameterises activations other than Sigmoid "
                                    + "and Tanh), got " + a.getFloatsList());
                        }
                    }
                    default -> throw bad(label, name, "not supported (the importer reads hidden_size, direction, "
                            + "layout, clip, activations and input_forget)");
                }
            }
            boolean bi;
            switch (direction) {
                case "forward" -> bi = false;
                case "bidirectional" -> bi = true;
                case "reverse" -> throw bad(label, "direction", "'reverse' is not supported (this library runs a "
                        + "forward or a bidirectional LSTM; a lone reverse one is not representable)");
                default -> throw bad(label, "direction", "expected forward or bidirectional, got '" + direction + "'");
            }
            if (activations != null) {
                List<String> want = new ArrayList<>();
                for (int d = 0; d < (bi ? 2 : 1); d++) want.addAll(List.of("Sigmoid", "Tanh", "Tanh"));
                boolean same = activations.size() == want.size();
                for (int i = 0; same && i < want.size(); i++) same = activations.get(i).equalsIgnoreCase(want.get(i));
                if (!same) throw bad(label, "activations", "expected " + want + ", got " + activations);
            }
            if (layout != 0 && layout != 1) throw bad(label, "layout", "expected 0 or 1, got " + layout);
            if (hidden == 0 || hidden < -1 || hidden > Integer.MAX_VALUE) {
                throw bad(label, "hidden_size", "expected a positive size, got " + hidden);
            }
            return new Attrs((int) hidden, bi, layout == 0 ? Layout.TIME_MAJOR : Layout.BATCH_MAJOR, clip);
        }

        LstmModel convert(List<NodeProto> chosen) throws IOException {
            List<Node> nodes = new ArrayList<>();
            for (NodeProto n : chosen) nodes.add(read(n, label(lstms.indexOf(n))));
            Node n0 = nodes.get(0);
            int d = n0.attrs.bidirectional ? 2 : 1, h = n0.attrs.hidden;
            boolean bias = false, peep = false;
            for (Node n : nodes) {
                bias |= n.b != null;
                peep |= n.p != null;
            }
            LstmConfig config;
            try {
                LstmConfig.Builder cb = LstmConfig.builder(n0.input, h).layers(nodes.size()).bidirectional(d == 2)
                        .peepholes(peep).layout(n0.attrs.layout);
                if (n0.attrs.clip > 0) cb.cellClip(n0.attrs.clip);
                config = cb.build();
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file, null, "LSTM node '" + n0.label + "' is not a configuration this "
                        + "library runs: " + e.getMessage(), e);
            }
            StackWeights.Builder stack = StackWeights.builder(config);
            for (int l = 0; l < nodes.size(); l++) {
                Node n = nodes.get(l);
                if (n.input != config.layerInputSize(l)) {
                    throw new ModelFormatException(file, input(n.node, 1), "expected shape [" + d + ", " + 4 * h
                            + ", " + config.layerInputSize(l) + "] (layer " + l + " reads the layer below's D·H), got "
                            + "input size " + n.input);
                }
                int in = n.input;
                for (int dir = 0; dir < d; dir++) {
                    float[] wIh = gates(n.w, dir, h, in), wHh = gates(n.r, dir, h, h);
                    LstmWeights.Builder b = LstmWeights.builder(MemorySegment.ofArray(wIh), MemorySegment.ofArray(wHh));
                    if (bias) {
                        float[] bb = n.b == null ? new float[d * 8 * h] : n.b;
                        float[] bIh = gates(Arrays.copyOfRange(bb, dir * 8 * h, dir * 8 * h + 4 * h), 0, h, 1);
                        float[] bHh = gates(Arrays.copyOfRange(bb, dir * 8 * h + 4 * h, dir * 8 * h + 8 * h), 0, h, 1);
                        b.bias(MemorySegment.ofArray(bIh), MemorySegment.ofArray(bHh));
                    }
                    if (peep) {
                        float[] p = n.p == null ? new float[3 * h] : Arrays.copyOfRange(n.p, dir * 3 * h, (dir + 1) * 3 * h);
                        b.peepholes(MemorySegment.ofArray(p));
                    }
                    stack.set(l, dir, b.build());
                }
            }
            List<String> labels = nodes.stream().map(n -> "'" + n.label + "'").toList();
            String format = FORMAT + (labels.size() == 1 ? " node " : " nodes ") + String.join(", ", labels);
            return new LstmModel(config, stack.build(), new ModelInfo(format, file, "", List.copyOf(dtypes), bias, read));
        }

        /** Rows of direction {@code dir} of an ONNX {@code [D, 4H, cols]} tensor, in this library's gate order. */
        static float[] gates(float[] src, int dir, int h, int cols) {
            float[] out = new float[4 * h * cols];
            int base = dir * 4 * h * cols;
            for (int q = 0; q < 4; q++) {
                System.arraycopy(src, base + ONNX_GATE[q] * h * cols, out, q * h * cols, h * cols);
            }
            return out;
        }

        Node read(NodeProto n, String label) throws IOException {
            Attrs a = attrs(n, label);
            if (n.getInputCount() < 3 || n.getInputCount() > INPUTS.length) {
                throw new ModelFormatException(file, "LSTM node '" + label + "': expected 3 to 8 inputs (X, W, R, B, "
                        + "sequence_lens, initial_h, initial_c, P), got " + n.getInputCount());
            }
            int d = a.bidirectional ? 2 : 1;
            TensorProto wt = weight(n, label, 1, true), rt = weight(n, label, 2, true);
            // hidden_size is optional in the spec: R's shape [D, 4H, H] gives it
            long hidden = rt.getDimsCount() == 3 ? rt.getDims(2) : -1;
            if (a.hidden > 0) hidden = a.hidden;
            if (hidden < 1 || hidden > Integer.MAX_VALUE / 8) {
                throw new ModelFormatException(file, rt.getName(), "expected shape [D, 4·H, H] giving the hidden size, "
                        + "got " + dims(rt));
            }
            int h = (int) hidden;
            a = new Attrs(h, a.bidirectional, a.layout, a.clip);
            if (wt.getDimsCount() != 3 || wt.getDims(2) < 1 || wt.getDims(2) > Integer.MAX_VALUE) {
                throw new ModelFormatException(file, wt.getName(), "expected shape [" + d + ", " + 4 * h + ", I] (W of "
                        + "LSTM node '" + label + "'), got " + dims(wt));
            }
            int in = (int) wt.getDims(2);
            float[] w = floats(wt, "W", label, d, 4L * h, in);
            float[] r = floats(rt, "R", label, d, 4L * h, h);
            TensorProto bt = weight(n, label, 3, false), pt = weight(n, label, 7, false);
            float[] b = bt == null ? null : floats(bt, "B", label, d, 8L * h);
            float[] p = pt == null ? null : floats(pt, "P", label, d, 3L * h);
            String seq = input(n, 4);
            if (!seq.isEmpty() && constants.containsKey(seq)) {
                throw new ModelFormatException(file, seq, "LSTM node '" + label + "': a constant sequence_lens is not "
                        + "supported (lengths are given per call, as a SequenceBatch)");
            }
            for (int i : new int[] {5, 6}) {
                String s = input(n, i);
                TensorProto t = s.isEmpty() ? null : constants.get(s);
                if (t == null) continue;
                for (float v : floats(t, INPUTS[i], label, -1, -1, h)) {
                    if (v != 0) {
                        throw new ModelFormatException(file, s, "LSTM node '" + label + "': a constant " + INPUTS[i]
                                + " must be zeros (the initial state is given per call), got " + v);
                    }
                }
            }
            return new Node(n, label, a, w, r, b, p, in);
        }

        /** Input {@code i} of {@code n} as a constant tensor; null when absent and optional. */
        TensorProto weight(NodeProto n, String label, int i, boolean required) throws ModelFormatException {
            String v = input(n, i);
            if (v.isEmpty()) {
                if (!required) return null;
                throw new ModelFormatException(file, "LSTM node '" + label + "': input " + INPUTS[i] + " is missing");
            }
            TensorProto t = constants.get(v);
            if (t == null) {
                throw new ModelFormatException(file, v, "LSTM node '" + label + "': input " + INPUTS[i] + " is not an "
                        + "initializer or a Constant (the importer reads weights stored in the model)");
            }
            return t;
        }

        static String dims(TensorProto t) {
            return t.getDimsList().toString();
        }

        /**
         * The elements of {@code t} as floats, checked to have dims {@code shape} (-1: any size but the element count
         * must be a multiple of the rest; used for initial states whose batch size is fixed by the exporter).
         */
        float[] floats(TensorProto t, String role, String label, long... shape) throws IOException {
            String name = t.getName();
            boolean ok = t.getDimsCount() == shape.length;
            long n = 1;
            for (int i = 0; ok && i < shape.length; i++) {
                long dim = t.getDims(i);
                ok = dim >= 0 && (shape[i] < 0 || dim == shape[i]);
                n = ok ? Math.multiplyExact(n, dim) : n;
            }
            if (!ok) {
                throw new ModelFormatException(file, name, "expected shape " + Arrays.toString(shape).replace("-1", "B")
                        + " (" + role + " of LSTM node '" + label + "'), got " + dims(t));
            }
            if (n > Integer.MAX_VALUE - 8) throw new ModelFormatException(file, name, "too many elements: " + dims(t));
            int type = t.getDataType(), size;
            String dtype;
            switch (type) {
                case 1 -> { size = 4; dtype = "F32"; }
                case 10 -> { size = 2; dtype = "F16"; }
                case 16 -> { size = 2; dtype = "BF16"; }
                case 11 -> { size = 8; dtype = "F64"; }
                default -> {
                    TensorProto.DataType dt = TensorProto.DataType.forNumber(type);
                    throw new ModelFormatException(file, name, "expected data_type FLOAT, FLOAT16, BFLOAT16 or DOUBLE, "
                            + "got " + (dt == null ? "" + type : dt.name()) + " (" + role + " of LSTM node '" + label + "')");
                }
            }
            int count = (int) n;
            if ((long) count * size > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file, name, "too large: dims " + dims(t) + " of " + dtype);
            }
            // the elements are allocated only once the data is known to be there (dims alone prove nothing)
            float[] out;
            ByteBuffer bytes = null;
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                bytes = external(t, (long) count * size);
            } else if (!t.getRawData().isEmpty()) {
                if (t.getRawData().size() != (long) count * size) {
                    throw new ModelFormatException(file, name, "raw_data has " + t.getRawData().size() + " bytes, dims "
                            + dims(t) + " of " + dtype + " need " + (long) count * size);
                }
                bytes = t.getRawData().asReadOnlyByteBuffer();
            }
            if (bytes != null) {
                bytes.order(ByteOrder.LITTLE_ENDIAN);
                out = new float[count];
                for (int i = 0; i < count; i++) {
                    out[i] = switch (type) {
                        case 1 -> bytes.getFloat();
                        case 10 -> Float.float16ToFloat(bytes.getShort());
                        case 16 -> Float.intBitsToFloat((bytes.getShort() & 0xffff) << 16);
                        default -> (float) bytes.getDouble();
                    };
                }
            } else {
                int have = switch (type) {
                    case 1 -> t.getFloatDataCount();
                    case 11 -> t.getDoubleDataCount();
                    default -> t.getInt32DataCount();
                };
                if (have != count) {
                    String field = type == 1 ? "float_data" : type == 11 ? "double_data" : "int32_data";
                    throw new ModelFormatException(file, name, field + " has " + have + " elements, dims " + dims(t)
                            + " need " + count + " (and raw_data is empty)");
                }
                out = new float[count];
                for (int i = 0; i < count; i++) {
                    out[i] = switch (type) {
                        case 1 -> t.getFloatData(i);
                        case 10 -> Float.float16ToFloat((short) t.getInt32Data(i));
                        case 16 -> Float.intBitsToFloat((t.getInt32Data(i) & 0xffff) << 16);
                        default -> (float) t.getDoubleData(i);
                    };
                }
            }
            if (!role.startsWith("initial")) {
                dtypes.add(dtype);
                read.add(name);
            }
            return out;
        }

        /** The {@code need} bytes of an external tensor, read from its file beside the model. */
        ByteBuffer external(TensorProto t, long need) throws IOException {
            String name = t.getName(), location = null;
            long offset = 0, length = -1;
            for (StringStringEntryProto e : t.getExternalDataList()) {
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = number(t, e);
                    case "length" -> length = number(t, e);
                    default -> { }   // checksum, basepath: not needed
                }
            }
            if (location == null || location.isEmpty()) {
                throw new ModelFormatException(file, name, "external data without a 'location'");
            }
            Path dir = file.toAbsolutePath().getParent();
            Path rel;
            try {
                rel = Path.of(location);
            } catch (java.nio.file.InvalidPathException e) {
                throw new ModelFormatException(file, name, "external data location '" + location + "' is not a path", e);
            }
            Path data = dir.resolve(rel).normalize();
            if (rel.isAbsolute() || !data.startsWith(dir.normalize())) {
                throw new ModelFormatException(file, name, "external data location '" + location + "' is outside the "
                        + "model's folder " + dir + " (it must be a relative path there)");
            }
            if (length >= 0 && length != need) {
                throw new ModelFormatException(file, name, "external data in '" + location + "': length " + length
                        + ", but dims " + dims(t) + " need " + need + " bytes");
            }
            try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
                long size = ch.size();
                if (offset > size || need > size - offset) {
                    throw new ModelFormatException(file, name, "external data file '" + location + "' (" + data + ") "
                            + "has " + size + " bytes; the tensor needs bytes " + offset + " to " + (offset + need)
                            + " (truncated?)");
                }
                ByteBuffer buf = ByteBuffer.allocate((int) need);
                long pos = offset;
                while (buf.hasRemaining()) {
                    int got = ch.read(buf, pos);
                    if (got < 0) throw new ModelFormatException(file, name, "external data file '" + location + "' ended early");
                    pos += got;
                }
                return buf.flip();
            } catch (NoSuchFileException e) {
                throw new ModelFormatException(file, name, "external data file '" + location + "' not found (looked for "
                        + data + ")", e);
            }
        }

        long number(TensorProto t, StringStringEntryProto e) throws ModelFormatException {
            try {
                long v = Long.parseLong(e.getValue().trim());
                if (v < 0) throw new NumberFormatException();
                return v;
            } catch (NumberFormatException x) {
                throw new ModelFormatException(file, t.getName(), "external data '" + e.getKey().toLowerCase(Locale.ROOT)
                        + "' is not a byte count: '" + e.getValue() + "'");
            }
        }
    }
}
