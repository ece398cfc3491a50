fn main(){}

mod emulator;
mod emulator_faults;
mod emulator_schema;
