package org.lstmk.api;

/**
 * Where {@link Lstm#backward} puts weight gradients: one layer's buffers ({@link LstmGradients}, for a single
 * unidirectional layer) or one per layer and direction ({@link StackGradients}).
 */
public sealed interface Gradients permits LstmGradients, StackGradients {}
