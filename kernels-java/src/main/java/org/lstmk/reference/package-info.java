/**
 * The scalar reference backend: the LSTM equations in double precision, plain loops, no tricks.
 * {@link org.lstmk.reference.ReferenceLstm} is the oracle; {@link org.lstmk.reference.ReferenceBackend} adapts it
 * to the backend SPI.
 */
package org.lstmk.reference;
