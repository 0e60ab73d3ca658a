using ScoringPlatform.Ingestion;
using ScoringPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("ingestion");
builder.AddIngestion();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
