package org.lstmk.models;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model or array file that cannot be used: corrupt, truncated, of an unsupported type, or not what the reader
 * expected. The message names the file, the tensor (where one is at fault) and what was expected, e.g.
 * {@code model.safetensors: tensor 'weight_hh_l0': expected shape [28, 7] (4·H × H_out), got [28, 6]}.
 */
public class ModelFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    /** A problem with the file as a whole. */
    public ModelFormatException(Path file, String problem) {
        this(file, null, problem, null);
    }

    /** A problem with one tensor (or array entry) of the file; {@code tensor} may be null. */
    public ModelFormatException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public ModelFormatException(Path file, String tensor, String problem, Throwable cause) {
        super(message(file, tensor, problem), cause);
        this.file = file;
        this.tensor = tensor;
    }

    private static String message(Path file, String tensor, String problem) {
        String where = file == null ? "" : file + ": ";
        return where + (tensor == null ? "" : "tensor '" + tensor + "': ") + problem;
    }

    /** The file at fault, or null. */
    public Path file() { return file; }

    /** The tensor at fault, or null when the file as a whole is. */
    public String tensor() { return tensor; }
}
